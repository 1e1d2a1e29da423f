"""Password hashing (Argon2id) and the rules a new password must pass (NIST SP 800-63B 5.1.1).

Every hash and verification, whoever asks (sign-in, register, change, reset, unlock), takes one of
:data:`HASHING_SLOTS`: one per core. More at once would only share the cores, and each holds
19 MiB: a burst of requests (40 worker threads) must not take 760 MiB at once. Routes call these
from worker threads (sync routes), never on the event loop.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import Field

MIN_LENGTH = 8
MAX_LENGTH = 128
_BLOCKLIST_FILE = Path(__file__).with_name("common_passwords.txt")
#: Argon2 computations running at once in this process: one per core (module docstring).
HASHING_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


#: A password being set (register, change, reset, unlock): its length declared (and checked by the
#: schema, so the numbers are one); what no JSON Schema can say (variety, the blocklist, the
#: likeness to the e-mail address or name) is described, and checked by :func:`password_problems`.
NewPassword = Annotated[
    str,
    Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=(
            f"{MIN_LENGTH} to {MAX_LENGTH} characters, at least three of them different; not one of the "
            "30,000 most common passwords (nor one followed by digits), and not the e-mail address or name."
        ),
    ),
]


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


class Passwords:
    """Hashes and checks passwords with the configured Argon2id parameters."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        #: Compared against when the account does not exist, so an unknown e-mail costs the same time.
        self.dummy_hash = self.hasher.hash("mamori-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        with HASHING_SLOTS:
            return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> Verification:
        """Check ``password``; a missing hash (frozen account) still costs one verification."""
        try:
            with HASHING_SLOTS:
                self.hasher.verify(stored_hash or self.dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verification(ok=False)
        if stored_hash is None:
            return Verification(ok=False)
        return Verification(ok=True, needs_rehash=self.hasher.check_needs_rehash(stored_hash))


@cache
def common_passwords() -> frozenset[str]:
    lines = _BLOCKLIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def password_problems(password: str, *, email: str, name: str) -> list[str]:
    """Why a new password is refused (empty when it is fine). Length and guessability only.

    Length is counted on the characters as sent (code points, as JSON Schema counts them), so
    what :data:`NewPassword` declares is exactly what is checked here; the rest is checked on the
    normalised text."""
    length = len(password)
    if length < MIN_LENGTH:
        return [f"at least {MIN_LENGTH} characters are required"]
    if length > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters are allowed"]
    candidate = _normalise(password)
    problems = []
    if candidate in common_passwords() or (
        _strip_digits(candidate) in common_passwords() and len(_strip_digits(candidate)) >= 6
    ):
        problems.append("it is one of the most commonly used passwords")
    if _too_close_to_identity(candidate, email=email, name=name):
        problems.append("it is too close to your e-mail address or name")
    if len(set(candidate)) <= 2:
        problems.append("it repeats too few characters")
    return problems


def _strip_digits(text: str) -> str:
    return re.sub(r"\d+$", "", text)


def _too_close_to_identity(candidate: str, *, email: str, name: str) -> bool:
    local_part = _normalise(email).split("@", 1)[0]
    pieces = {local_part, _normalise(email), _normalise(name).replace(" ", "")}
    pieces.update(part for part in re.split(r"[^\w]+", _normalise(name) + " " + local_part) if len(part) >= 4)
    compact = re.sub(r"[^\w]", "", candidate)
    for piece in pieces:
        piece = re.sub(r"[^\w]", "", piece)
        if len(piece) < 4:
            continue
        if compact == piece or (piece in compact and len(compact) - len(piece) <= 4):
            return True
    return False
