"""The WebAuthn ceremonies, through the ``webauthn`` library (py_webauthn): options for the
browser, and the verification of what it sends back. What is asked of each check, and why, is
:mod:`.policy`; nothing here parses CBOR or checks a signature by hand.

Every failure of a credential sent back (malformed JSON, wrong origin, rp id hash, challenge,
type, flags, signature, attestation) is one :class:`CeremonyFailed`, whose ``reason`` goes to
the audit trail and never to the client: each caller answers one problem code for all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from services.auth.accounts.models import Account
from services.auth.config import AuthSettings
from services.auth.passkeys import policy
from services.auth.passkeys.models import Passkey

#: What the library (and cbor2, base64 and json under it) raise for input it cannot read.
_UNREADABLE = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError)
_TRANSPORTS = {item.value for item in AuthenticatorTransport}


class CeremonyFailed(Exception):
    """The credential sent back does not pass; ``reason`` is for the audit trail only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def user_handle(account: Account) -> bytes:
    """The WebAuthn user id of an account: its random id (no e-mail or name: the spec forbids it)."""
    return account.id.encode()


def _user_verification(purpose: policy.Purpose, settings: AuthSettings) -> UserVerificationRequirement:
    if policy.requires_user_verification(purpose, settings):
        return UserVerificationRequirement.REQUIRED
    return UserVerificationRequirement.PREFERRED


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(item) for item in passkey.transports if item in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports or None)


def _timeout_ms(settings: AuthSettings) -> int:
    return settings.passkey_ceremony_seconds * 1000


def registration_options(
    settings: AuthSettings, account: Account, existing: list[Passkey], challenge: bytes
) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` JSON: a discoverable credential, none of ``existing`` again."""
    options = generate_registration_options(
        rp_id=settings.passkey_rp_id,
        rp_name=settings.passkey_rp_name,
        user_id=user_handle(account),
        user_name=account.email,
        user_display_name=account.name,
        challenge=challenge,
        timeout=_timeout_ms(settings),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=_user_verification("registration", settings),
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    return dict(json.loads(options_to_json(options)))


def authentication_options(
    settings: AuthSettings, challenge: bytes, purpose: policy.Purpose, allow: list[Passkey] | None = None
) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` JSON; ``allow`` empty for a discoverable sign-in."""
    options = generate_authentication_options(
        rp_id=settings.passkey_rp_id,
        challenge=challenge,
        timeout=_timeout_ms(settings),
        allow_credentials=[_descriptor(passkey) for passkey in allow or []],
        user_verification=_user_verification(purpose, settings),
    )
    return dict(json.loads(options_to_json(options)))


@dataclass(frozen=True)
class NewCredential:
    credential_id: str
    public_key: bytes
    sign_count: int
    backed_up: bool
    aaguid: str
    transports: list[str]


def verify_registration(settings: AuthSettings, credential: dict[str, Any], challenge: bytes) -> NewCredential:
    """Check an attestation (``navigator.credentials.create()`` as JSON) against our challenge."""
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.passkey_rp_id,
            expected_origin=list(settings.passkey_origins),
            require_user_presence=True,
            require_user_verification=policy.requires_user_verification("registration", settings),
        )
    except _UNREADABLE as exc:
        raise CeremonyFailed(f"registration: {exc}") from None
    response = credential.get("response")
    raw_transports = response.get("transports") if isinstance(response, dict) else None
    transports = [item for item in raw_transports or [] if isinstance(item, str) and item in _TRANSPORTS]
    return NewCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        backed_up=verified.credential_backed_up,
        aaguid=verified.aaguid,
        transports=sorted(set(transports)),
    )


def parse_assertion(credential: dict[str, Any]) -> AuthenticationCredential:
    """The assertion's parts (which credential, which user handle), before anything is verified."""
    try:
        parsed = parse_authentication_credential_json(credential)
    except _UNREADABLE as exc:
        raise CeremonyFailed(f"assertion: {exc}") from None
    if bytes_to_base64url(parsed.raw_id) != parsed.id:
        raise CeremonyFailed("assertion: id and rawId differ")
    return parsed


def credential_id_of(parsed: AuthenticationCredential) -> str:
    return bytes_to_base64url(parsed.raw_id)


@dataclass(frozen=True)
class Assertion:
    """A verified assertion: its signature holds; the counter is for the caller to judge."""

    sign_count: int
    backed_up: bool
    user_verified: bool
    counter_regressed: bool


def verify_assertion(
    settings: AuthSettings,
    parsed: AuthenticationCredential,
    challenge: bytes,
    passkey: Passkey,
    purpose: policy.Purpose,
) -> Assertion:
    """Check an assertion (``navigator.credentials.get()`` as JSON) by ``passkey``'s key.

    The library is given a stored counter of 0, so it verifies the signature whatever the
    counter says; :func:`policy.counter_regressed` then judges the counter of a signed assertion.
    """
    if parsed.response.user_handle is not None and parsed.response.user_handle != passkey.account_id.encode():
        raise CeremonyFailed("assertion: the user handle is not the passkey's account")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.passkey_rp_id,
            expected_origin=list(settings.passkey_origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=policy.requires_user_verification(purpose, settings),
        )
    except _UNREADABLE as exc:
        raise CeremonyFailed(f"assertion: {exc}") from None
    return Assertion(
        sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        user_verified=verified.user_verified,
        counter_regressed=policy.counter_regressed(passkey.sign_count, verified.new_sign_count),
    )
