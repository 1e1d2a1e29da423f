"""Documents at rest: AES-256-GCM with a key id, so keys rotate without re-encrypting at once.

A stored blob is ``nonce (12 bytes) || ciphertext+tag``; the key id sits in the documents row and
the document id is the associated data, so a blob swapped for another document's fails to decrypt.
Where blobs live (database or data directory) is :mod:`~services.verification.documents.blob_stores`.
Keys come from ``MAMORI_VERIFICATION_DOCUMENT_KEYS`` (``kid:key,...``, first one encrypts) or, in
the embedded default, one generated under the data dir's ``secrets/``.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from mamori_common.settings import read_or_create_secret
from services.verification.documents.blob_stores import BlobStore

_NONCE_BYTES = 12


def _decode_key(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 32:
        raise ValueError("a document key must be 32 bytes (base64url)")
    return raw


def new_key_spec() -> str:
    """A fresh ``kid:key`` pair (what the embedded default writes)."""
    key = base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode().rstrip("=")
    return f"k{secrets.token_hex(4)}:{key}"


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in spec.split(","):
            kid, _, key = part.strip().partition(":")
            if not kid or not key:
                raise ValueError("document keys are kid:key pairs separated by commas")
            keys[kid] = _decode_key(key)
            order.append(kid)
        return cls(order[0], keys)

    @classmethod
    def from_settings(cls, configured: str | None, data_dir: Path) -> Keyring:
        if configured:
            return cls.parse(configured)
        return cls.parse(read_or_create_secret(data_dir / "secrets" / "verification-documents.keys", new_key_spec))

    def encrypt(self, plaintext: bytes, associated: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        return self.current_id, nonce + AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext, associated)

    def decrypt(self, key_id: str, blob: bytes, associated: bytes) -> bytes:
        key = self.keys.get(key_id)
        if key is None:
            raise KeyError(f"document key {key_id!r} is not configured")
        try:
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated)
        except InvalidTag as exc:
            raise ValueError("the stored document does not decrypt: altered or swapped") from exc


@dataclass(frozen=True)
class DocumentStore:
    """Documents encrypted with the keyring, their ciphertext kept by a :class:`BlobStore`."""

    keyring: Keyring
    blobs: BlobStore

    def put(self, db: Session, document_id: str, plaintext: bytes) -> str:
        """Encrypt and keep; returns the key id (it goes in the documents row)."""
        key_id, blob = self.keyring.encrypt(plaintext, document_id.encode())
        self.blobs.put(db, document_id, blob)
        return key_id

    def get(self, db: Session, document_id: str, key_id: str) -> bytes:
        return self.keyring.decrypt(key_id, self.blobs.get(db, document_id), document_id.encode())

    def stored(self, db: Session) -> list[tuple[str, datetime]]:
        return self.blobs.stored(db)

    def delete(self, db: Session, document_id: str) -> bool:
        return self.blobs.delete(db, document_id)
