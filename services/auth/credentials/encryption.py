"""Symmetric encryption for secrets auth must read back (TOTP seeds, mails awaiting delivery).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``; the key comes from
``MAMORI_AUTH_ENCRYPTION_KEY`` or, in the embedded default, a file under the data dir.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.fernet import Fernet

from mamori_common.settings import read_or_create_secret


class Encryptor:
    def __init__(self, key: str) -> None:
        self._key = key.encode()
        self._fernet = Fernet(self._key)

    def derive_key(self, purpose: bytes) -> bytes:
        """A separate key for another use (HMAC of codes), so one key never serves two purposes."""
        return hmac.new(self._key, purpose, hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, configured_key: str | None, data_dir: Path) -> Encryptor:
        if configured_key:
            return cls(configured_key)
        path = data_dir / "secrets" / "auth-encryption.key"
        return cls(read_or_create_secret(path, lambda: Fernet.generate_key().decode()))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()
