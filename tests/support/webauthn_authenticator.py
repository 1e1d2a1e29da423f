"""A passkey authenticator in software, for tests: what a browser and its authenticator answer to
``navigator.credentials.create()`` and ``get()``, as the ``PublicKeyCredential.toJSON()`` a page
sends on.

Keys are EC P-256 (ES256) made with ``cryptography``; the attestation is ``none``; CBOR is
``cbor2`` (which the ``webauthn`` library itself depends on). Only tests build these structures:
the service verifies them with the library.

    authenticator = SoftwareAuthenticator()
    credential = authenticator.create(options)          # registration options JSON -> credential JSON
    assertion = authenticator.get(request_options)      # request options JSON -> assertion JSON

Every keyword of :meth:`~SoftwareAuthenticator.create` and :meth:`~SoftwareAuthenticator.get` that
breaks a rule (another origin or rp id, no user verification, an old counter, another challenge)
is there to make the service refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

DEFAULT_ORIGIN = "http://localhost:8000"

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """One credential the authenticator holds (a discoverable one: it keeps the user handle)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )


@dataclass
class SoftwareAuthenticator:
    """A platform authenticator with a PIN: presence and verification by default, counting uses
    (``counts=False`` behaves like a synced passkey, always 0), optionally backed up."""

    origin: str = DEFAULT_ORIGIN
    counts: bool = True
    backed_up: bool = False
    transports: tuple[str, ...] = ("internal", "hybrid")
    aaguid: bytes = bytes(16)
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    # -- registration ---------------------------------------------------------------------------

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer PublicKeyCredentialCreationOptions JSON with a new credential's attestation."""
        for excluded in options.get("excludeCredentials") or []:
            if from_b64url(excluded["id"]) in self.credentials:
                raise ValueError("InvalidStateError: this authenticator holds an excluded credential")
        rp = rp_id or options["rp"]["id"]
        credential = Credential(
            credential_id=credential_id or secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=options["rp"]["id"],
            user_handle=from_b64url(options["user"]["id"]),
        )
        self.credentials[credential.credential_id] = credential
        attested = (
            self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._authenticator_data(rp, user_present, user_verified, credential.sign_count, FLAG_AT) + attested
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": list(self.transports),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    # -- authentication -------------------------------------------------------------------------

    def get(
        self,
        options: dict[str, Any],
        *,
        credential_id: bytes | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer PublicKeyCredentialRequestOptions JSON with an assertion signed by a held credential.

        With ``allowCredentials`` the first one held is used; without (a discoverable sign-in) the
        one named by ``credential_id``, else the newest held for the options' rp id.
        """
        credential = self._choose(options, credential_id)
        if sign_count is None:
            if self.counts:
                credential.sign_count += 1
            sign_count = credential.sign_count
        auth_data = self._authenticator_data(
            rp_id or options.get("rpId") or credential.rp_id, True, user_verified, sign_count, 0
        )
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle if user_handle is not None else credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def only_credential_id(self) -> bytes:
        assert len(self.credentials) == 1, f"{len(self.credentials)} credentials held"
        return next(iter(self.credentials))

    # -- the parts ------------------------------------------------------------------------------

    def _choose(self, options: dict[str, Any], credential_id: bytes | None) -> Credential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [from_b64url(item["id"]) for item in options.get("allowCredentials") or []]
        if allowed:
            held = [self.credentials[item] for item in allowed if item in self.credentials]
            if not held:
                raise ValueError("NotAllowedError: no allowed credential is held here")
            return held[0]
        rp = options.get("rpId")
        held = [item for item in self.credentials.values() if rp is None or item.rp_id == rp]
        if not held:
            raise ValueError("NotAllowedError: no credential for this relying party")
        return held[-1]

    def _authenticator_data(self, rp_id: str, present: bool, verified: bool, sign_count: int, extra: int) -> bytes:
        flags = extra
        flags |= FLAG_UP if present else 0
        flags |= FLAG_UV if verified else 0
        flags |= (FLAG_BE | FLAG_BS) if self.backed_up else 0
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()
