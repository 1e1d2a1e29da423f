"""One-time codes and tokens: how they are made, and how they are stored (never in clear).

Six-digit codes are few enough to brute-force from a stolen table, so they are stored as an
HMAC under a key the database does not hold; long random tokens (reset, revert, refresh) are
stored as plain SHA-256, which is enough for 256 bits of randomness.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_readable_code(groups: int = 4, size: int = 4) -> str:
    """A code a person copies from a mail (revert codes, recovery codes): no 0/O or 1/I/L."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(size)) for _ in range(groups))


def normalise_readable_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class CodeHasher:
    """HMAC-SHA256 under a server-side key, for short codes."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, scope: str, code: str) -> str:
        """``scope`` (a challenge id) binds a code to the one challenge it was issued for."""
        return hmac.new(self._key, f"{scope}:{code}".encode(), hashlib.sha256).hexdigest()

    def matches(self, scope: str, code: str, stored: str | None) -> bool:
        if stored is None:
            return False
        return hmac.compare_digest(self.digest(scope, code), stored)
