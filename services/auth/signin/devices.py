"""Which device a sign-in comes from: a token the server issued, never a name the client chose.

A device id the client picks (the old ``X-Device-ID``) is a string anyone can send: an attacker
who saw the owner's (``listSessions`` showed it) sent it from a new address and was treated as
the owner's laptop, TOTP waived. So a device is recognised only by a **device token** the server
issued to it on a sign-in that passed every check:

* ``<handle>.<secret>.<mac>``: a random public handle (how sessions, attempts and
  ``known_devices`` name the device), a random secret, and an HMAC of both under a key derived
  from auth's encryption key. A forged or guessed value fails the MAC and is refused without a
  database lookup (the throttle gate checks it too); only the secret's SHA-256 is stored.
* **Rotated on each sign-in**: the device gets a new secret, the old token stops being
  recognised. A copied token therefore works only until the owner's next sign-in.
* **Never echoed**: no answer but the sign-in's own carries it (``listSessions`` shows the
  handle, which opens nothing without the secret and the signature).
* Browsers hold it in the portal's ``mamori_device_token`` cookie (HttpOnly, Secure, SameSite
  Strict), which the portal sends to auth's sign-in routes only; API clients get it as
  ``device_token`` in the sign-in answer and send it back as ``X-Device-Token``.

A token belongs to the device, not to an account: one browser signing in to two accounts keeps
one token, and ``known_devices`` says which accounts signed in from it. Recognising a device never
waives an enrolled factor by itself on a sign-in that is otherwise risky (``RiskSignals.familiar``
in :mod:`.risk`, read by :mod:`.policy`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session as DbSession

from mamori_common.db import rows_changed
from services.auth.credentials.encryption import Encryptor
from services.auth.request_context import RequestContext
from services.auth.signin.models import Device

#: Where API clients send their device token back (browsers: the portal sends it there too).
TOKEN_HEADER = "x-device-token"
#: The portal's cookie for it (also read when a browser calls auth directly through the gateway).
TOKEN_COOKIE = "mamori_device_token"
#: Longest value looked at: anything longer is not one of ours.
MAX_TOKEN_LENGTH = 128
_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class DeviceSigner:
    """Signs device tokens and checks their signature (no database)."""

    key: bytes

    def _mac(self, handle: str, secret: str) -> str:
        return _b64(hmac.new(self.key, f"{handle}.{secret}".encode(), hashlib.sha256).digest()[:_MAC_BYTES])

    def token(self, handle: str, secret: str) -> str:
        return f"{handle}.{secret}.{self._mac(handle, secret)}"

    def parts(self, token: str | None) -> tuple[str, str] | None:
        """(handle, secret) of a token this server signed; None for anything else."""
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        handle, secret, mac = token.split(".")
        if not handle or not secret or len(handle) > 32:
            return None
        return (handle, secret) if hmac.compare_digest(mac, self._mac(handle, secret)) else None


def signer_of(encryptor: Encryptor) -> DeviceSigner:
    """The signer under auth's key for this purpose alone (one key never serves two uses)."""
    return DeviceSigner(encryptor.derive_key(b"device-tokens"))


def claimed(signer: DeviceSigner, context: RequestContext) -> RequestContext:
    """The context naming the device its token claims, checked by signature only.

    For the cheap paths before the database (the throttle's turn-away); :func:`recognised` must
    confirm it before any rule trusts it."""
    parts = signer.parts(context.device_token)
    return dataclasses.replace(context, device_id=parts[0] if parts else None)


def recognised(db: DbSession, signer: DeviceSigner, context: RequestContext) -> RequestContext:
    """The context naming the device only when its token is the one last issued to it.

    Anything else (no token, forged, guessed, a rotated-out or client-chosen value) names no device.
    """
    parts = signer.parts(context.device_token)
    device = db.get(Device, parts[0]) if parts else None
    known = parts is not None and device is not None and hmac.compare_digest(device.secret_hash, _secret_hash(parts[1]))
    return dataclasses.replace(context, device_id=device.id if known and device is not None else None)


def rotate(
    db: DbSession, signer: DeviceSigner, context: RequestContext, *, now: datetime
) -> tuple[RequestContext, str]:
    """A sign-in passed every check: a new token for its device (a new device when none was
    recognised); the context names the device by its handle. The caller commits."""
    secret = secrets.token_urlsafe(32)
    handle = context.device_id
    if handle is not None:
        result = db.execute(
            update(Device)
            .where(Device.id == handle)
            .values(secret_hash=_secret_hash(secret), issued_at=now)
            .execution_options(synchronize_session=False)
        )
        if not rows_changed(result):
            handle = None
    if handle is None:
        handle = _b64(secrets.token_bytes(16))
        db.add(Device(id=handle, secret_hash=_secret_hash(secret), issued_at=now, created_at=now))
        db.flush()
    return dataclasses.replace(context, device_id=handle), signer.token(handle, secret)
