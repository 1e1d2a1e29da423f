"""The relying-party rules of passkeys (WebAuthn Level 2, section 7), in one place, and why.

The checks themselves (CBOR, COSE keys, signatures, rp id hashes, origins) are done by the
``webauthn`` library (:mod:`.ceremonies`); this module says what Mamori asks of them. Every number
is a setting in :class:`~services.auth.config.AuthSettings`; nothing here touches a database, so
each rule is tested on its own (tests/auth/test_passkey_policy.py).

* **Relying party id and origins.** A credential is bound by the browser to the rp id, a
  registrable domain the page's origin is on (WebAuthn 5.1.3, 5.1.4). An IP address is never a
  valid rp id, so the embedded default serves the portal on ``http://localhost:<port>``
  (``localhost`` is a secure context over plain HTTP) and ``mamori run`` prints that address.
  Every origin in ``passkey_origins`` must be on the rp id or one of its subdomains, over https
  (or http for localhost), or no browser would ever send a ceremony from it: a misconfiguration
  is refused at start, not at the first customer's ceremony (the check is
  :mod:`.relying_party`, which the settings run and which imports nothing of auth).
* **Challenges** are 32 random bytes (the spec asks for at least 16), bound to their account and
  purpose (registration, sign-in, a login's step-up), answered once and within
  ``passkey_ceremony_seconds``. A ceremony is spent before its answer is checked, so a wrong or
  replayed answer burns it too: each challenge gets exactly one answer.
* **User presence** is always required (the library refuses an assertion without it).
* **User verification** (PIN or biometrics) at registration and at a step-up after the password
  follows ``passkey_user_verification``: with a password already given, possession of the
  authenticator is the second factor. A sign-in with the passkey alone always requires it: without
  verification the passkey proves only possession, one factor, and it would replace both the
  password and the second factor. A passkey sign-in with verification is itself two factors, so
  it asks no further step-up.
* **Attestation** is ``none``: Mamori trusts no authenticator vendor (that would need a metadata
  service); a passkey's strength is that its private key never leaves the authenticator and each
  assertion is bound to our rp id, origin and challenge.
* **Signature counter.** Both counters 0 means the authenticator does not count (synced passkeys
  always send 0): nothing to compare. Otherwise the new counter must be greater than the stored
  one (7.2 step 21); one that did not grow means a cloned authenticator: the sign-in is refused,
  the stored counter is left as it was, and the refusal is a security event
  (``passkey_counter_regressed``) the customer sees in listSecurityEvents. The counter is
  compared here only after the library has verified the signature, so nobody without the key can
  raise that alarm.
* **Credential ids are unique across every account** (7.1 step 25; so also per account): a
  second registration of a known id is refused (409), so a discoverable sign-in always names one
  account. Removed passkeys keep their id reserved (a revert may bring them back).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from services.auth.config import AuthSettings

#: Random bytes of every WebAuthn challenge.
CHALLENGE_BYTES = 32
#: The most characters of a passkey's name.
NAME_MAX_LENGTH = 64

Purpose = Literal["registration", "sign_in", "step_up"]


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def ceremony_deadline(now: datetime, settings: AuthSettings) -> datetime:
    """When a challenge issued ``now`` can no longer be answered."""
    return now + timedelta(seconds=settings.passkey_ceremony_seconds)


def ceremony_open(expires_at: datetime, consumed_at: datetime | None, now: datetime) -> bool:
    """A challenge may be answered once, before its deadline."""
    return consumed_at is None and now < expires_at


def requires_user_verification(purpose: Purpose, settings: AuthSettings) -> bool:
    """Sign-in with the passkey alone: always; registration and step-up: as configured."""
    return purpose == "sign_in" or settings.passkey_user_verification == "required"


def counter_regressed(stored: int, received: int) -> bool:
    """A signature counter that did not grow (both 0: the authenticator does not count)."""
    if stored == 0 and received == 0:
        return False
    return received <= stored


def may_add_passkey(active_passkeys: int, settings: AuthSettings) -> bool:
    return active_passkeys < settings.passkeys_per_account


def default_name(active_passkeys: int) -> str:
    """``Passkey 1``, ``Passkey 2`` ... when the customer gives none."""
    return f"Passkey {active_passkeys + 1}"


def required_stays_on(required: bool, active_passkeys: int) -> bool:
    """ "Passkey required" needs a passkey: removing the last one turns it off, so losing every
    passkey never leaves a rule nobody can meet."""
    return required and active_passkeys > 0
