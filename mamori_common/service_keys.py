"""Each service's own Ed25519 key pair, and the public keys of the services it hears from.

A service signs its calls to the others with its private key (:class:`ServiceKey`), which no
other process is given: no service can sign as another. Every service knows the others' public
keys by name (:class:`ServiceKeyring`) and checks a caller's token against the key of the caller
the token names, so ``iss`` is proven, not claimed. The portal and the gateway hold no key: they
call nothing internal.

Where the keys live (``mamori_common/settings.py`` reads the settings):

- the private key: ``MAMORI_SERVICE_PRIVATE_KEY`` (a secret store), else the file
  ``MAMORI_SERVICE_KEY_FILE``, else ``<data dir>/secrets/service-keys/<name>/service.key``,
  generated on first use. ``mamori run`` generates every service's pair at first start and points each service
  at its own file; compose's ``keys`` one-shot writes each into that service's own volume.
- the public keys: ``MAMORI_SERVICE_PUBLIC_KEYS`` (JSON, name to key), else
  ``<name>.pub`` files in ``MAMORI_SERVICE_PUBLIC_KEYS_DIR`` (default
  ``<data dir>/secrets/service-keys/public``), read when a caller is first seen.

A key is PEM (what ``openssl genpkey -algorithm ed25519`` writes) or the raw 32 bytes in
base64url (a JWK's ``x`` or ``d``), which fits in an environment variable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: The services that sign internal calls (and so have a key pair). The portal and the gateway
#: call no internal endpoint.
SIGNING_SERVICES = ("auth", "verification", "orders")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("a service key is PEM, or 32 bytes in base64url") from exc


def parse_private_key(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a service key must be an Ed25519 private key")
        return key
    raw = _unb64(text)
    if len(raw) != 32:
        raise ValueError("a service key is an Ed25519 key: PEM, or 32 bytes in base64url")
    return Ed25519PrivateKey.from_private_bytes(raw)


def parse_public_key(text: str) -> Ed25519PublicKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a service's public key must be an Ed25519 key")
        return key
    raw = _unb64(text)
    if len(raw) != 32:
        raise ValueError("a service's public key is an Ed25519 key: PEM, or 32 bytes in base64url")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as base64url of its 32 bytes (what ``MAMORI_SERVICE_PUBLIC_KEYS`` holds)."""
    return _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class ServiceKey:
    """One service's private key: it signs that service's calls and events."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def derive(self, label: bytes) -> bytes:
        """A symmetric key for one purpose of this service alone (e.g. its pagination cursors):
        every replica holds the same private key, so every replica derives the same key."""
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return hmac.new(raw, b"mamori-derived:" + label, hashlib.sha256).digest()


def key_dir(data_dir: Path) -> Path:
    """Where the embedded default keeps the keys: ``<name>/service.key`` (one directory, and in
    compose one volume, a service) and ``public/<name>.pub``."""
    return data_dir / "secrets" / "service-keys"


def private_key_file(data_dir: Path, name: str) -> Path:
    return key_dir(data_dir) / name / "service.key"


def public_key_dir(data_dir: Path) -> Path:
    return key_dir(data_dir) / "public"


def public_key_file(directory: Path, name: str) -> Path:
    return directory / f"{name}.pub"


def load_or_create_key(name: str, path: Path, public_dir: Path | None) -> ServiceKey:
    """The key in ``path``, generated there (mode 0600) on first use; its public half is written
    to ``public_dir`` for the others. Processes starting at once: the exclusive create lets one
    of them write it, the others read it."""
    try:
        key = ServiceKey(name, parse_private_key(path.read_text()))
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = Ed25519PrivateKey.generate()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = ServiceKey(name, parse_private_key(path.read_text()))
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(private_pem(candidate))
            key = ServiceKey(name, candidate)
    if public_dir is not None:
        publish_public_key(key, public_dir)
    return key


def publish_public_key(key: ServiceKey, public_dir: Path) -> None:
    """Write ``<name>.pub`` unless it already holds this key (a read-only mount is left alone)."""
    path = public_key_file(public_dir, key.name)
    text = public_text(key.public_key)
    try:
        if path.read_text().strip() == text:
            return
    except FileNotFoundError:
        pass
    try:
        public_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".pub.{os.getpid()}")
        temporary.write_text(text + "\n")
        temporary.replace(path)
    except OSError:
        return


def ensure_key_pairs(data_dir: Path, names: tuple[str, ...] = SIGNING_SERVICES) -> dict[str, Path]:
    """Every service's key pair under ``data_dir`` (``mamori run`` at first start, compose's
    ``keys`` one-shot): the private key file of each, by name."""
    files = {}
    for name in names:
        files[name] = private_key_file(data_dir, name)
        load_or_create_key(name, files[name], public_key_dir(data_dir))
    return files


class ServiceKeyring:
    """The public keys of the services this one accepts calls from, by the caller's name.

    Configured keys win; any other name is looked up as ``<name>.pub`` in the public directory
    when first seen (a service that starts later publishes its key there), and kept.
    """

    def __init__(self, configured: Mapping[str, str], directory: Path | None) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {name: parse_public_key(text) for name, text in configured.items()}
        self.directory = directory
        self._lock = threading.Lock()

    def public_key(self, name: str) -> Ed25519PublicKey | None:
        if name not in SIGNING_SERVICES:
            return None
        found = self._keys.get(name)
        if found is not None or self.directory is None:
            return found
        try:
            loaded = parse_public_key(public_key_file(self.directory, name).read_text())
        except (OSError, ValueError):
            return None
        with self._lock:
            self._keys[name] = loaded
        return loaded
