"""The e-mail addresses auth takes, declared as exactly as they are checked.

``format: email`` allows far more than a mailbox Mamori can write to (quoted local parts, IP
literals, ``.test`` and other special-use domains, which email-validator refuses), so a client
following the contract could be refused. :data:`EMAIL_PATTERN` is what is accepted: a dot-atom
local part of at most 64 characters, a domain of letter-digit-hyphen labels under a letter TLD
that is not special-use, at most 254 characters in all. It is declared in the OpenAPI and checked
here before email-validator normalises the address, so the two can never disagree.
"""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BeforeValidator, EmailStr, Field


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char) for char in word)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: A label: letters, digits and inner hyphens, never ``ab--`` (IDNA reserves those).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPECIAL = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?!(?:{_SPECIAL})$)[A-Za-z]{{2,63}}$"
_COMPILED = re.compile(EMAIL_PATTERN)


#: RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. ``format: email`` declares it (a pattern
#: could only with a lookahead, which no generator of examples can satisfy); email-validator lets a
#: longer one through, so it is checked here.
LOCAL_PART_MAX = 64


def _plain_address(value: object) -> object:
    if isinstance(value, str) and (
        _COMPILED.fullmatch(value) is None or len(value.rpartition("@")[0]) > LOCAL_PART_MAX
    ):
        raise ValueError("an e-mail address like name@example.com (letters, digits and . _ + - before the @)")
    return value


#: An address an account is registered under, moved to, or reset at.
EmailAddress = Annotated[
    EmailStr,
    BeforeValidator(_plain_address),
    Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}),
]
