"""Masked card numbers: the mask characters people print, the ones OCR reads them as, and the last 4.

A redacted statement shows ``**** **** **** 9011``, ``●●●● ●●●● ●●●● 9011``, ``XXXX-XXXX-XXXX-9011``
or ``××××``/``••••``/``・・・・`` groups, then the last 4 digits. OCR does not read the masks back
as printed: Tesseract reads ``*`` as ``K`` or ``大`` and ``●`` as ``0``/``O``/``の``, RapidOCR reads
``●`` as ``0000`` and ``•`` as ``·``. So a mask is either

- at least 4 *mask characters* (``*`` ``X`` ``x`` ``×`` ``●`` ``•`` ``・`` ``·`` ``#`` ...), or
- at least 8 *misread masks* (``0`` ``O`` ``o`` ``K`` ``大`` ``米`` ``の`` ...), in at most 19
  characters (two groups or more: a lone ``0000`` before 4 digits is a number, not a mask),

with spaces or dashes between, followed by 4 digits with no digit after (or before the mask). OCR
sometimes reads a mask as a digit (``000000000009 9011``): two stray digits are allowed.
A run of zeros is read as a mask only when nothing else is in it, and no issuer's card starts
with ``0``, so a zero-run mask is never a full card number the detector would refuse.
"""

from __future__ import annotations

import re

#: Characters printed to hide a digit (folded text: full-width ``＊`` is ``*`` already).
MASK_CHARACTERS = "*xX×✕✖•●・·∙⋅◦○◯■□#"
#: What OCR reads mask characters as (``0``, ``の``, ``@`` for ``●``; ``K``, ``大`` for ``*``...).
MISREAD_MASKS = "0OoK大米メ※の@"
#: RapidOCR reads ``••••`` groups as one run of dots against the last 4 (``............9011``);
#: only that, touching the digits, since leader dots in a table (``Total ........ 5000``) are not masks.
_DOTS = re.compile(r"(?<![0-9.])\.{8,15}(?P<last4>[0-9]{4})(?![0-9])")
#: In a run of masks, at most this many other digits (``●●●●`` read ``000000000009`` or ``のののの⑥ 0000 0008``).
STRAY_DIGITS = 2
_ANY_MASK = re.escape(MASK_CHARACTERS + MISREAD_MASKS)
#: A run of masks (and digits OCR put among them), separators, ending in the last 4 digits.
_MASKED = re.compile(
    rf"(?<![0-9A-Za-z])(?P<mask>[{_ANY_MASK}](?:[ \-]?[{_ANY_MASK}0-9]){{3,18}})[ \-]{{0,3}}(?P<last4>[0-9]{{4}})(?![0-9])"
)
_TRUE_MASK = frozenset(MASK_CHARACTERS)


def _is_mask(run: str) -> bool:
    masks = [char for char in run if char not in " -"]
    stray = [char for char in masks if char.isdigit() and char != "0"]
    if len(stray) > STRAY_DIGITS:
        return False
    if sum(char in _TRUE_MASK for char in masks) >= 4:
        return True
    return len(masks) - len(stray) >= 8


def masked_last4(folded: str) -> list[str]:
    """The last 4 digits of every masked card number in ``folded`` (the upload's folded text)."""
    found = [match.group("last4") for match in _DOTS.finditer(folded)]
    for match in _MASKED.finditer(folded):
        if _is_mask(match.group("mask")):
            found.append(match.group("last4"))
    return found
