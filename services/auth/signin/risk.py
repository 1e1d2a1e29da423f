"""Risk signals of a sign-in: is this a device, an address, a country the owner signed in from?

The baseline is the account's own history: its known devices (a device becomes known when a
sign-in from it passed every check) and the addresses and countries of its recent successful
sign-ins. An account without any history (just registered) has no baseline, so its first
sign-in is not "new" anything: the registrant has just chosen the password.

Devices are the ones :mod:`.devices` recognised by their server-issued token (``context.device_id``
is set only then). A client without one (an API client, a browser without the portal's cookie, a
forged or made-up token) is judged by
address and country alone: an unknown address is not by itself a reason to step up (mobile and
home addresses change all the time), a new country is. Except for an owner who signs in with a
device (the portal's cookie): for that account a client naming no device, at an address it never
signed in from, is a new device. Otherwise a credential-stuffing list run from addresses in the
owner's own country, without cookies, would get every reused password in with no step-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session as DbSession

from services.auth.request_context import RequestContext
from services.auth.signin.models import KnownDevice, SignInAttempt, SignInOutcome

SUCCESSES = (SignInOutcome.success, SignInOutcome.challenge_passed)


@dataclass(frozen=True)
class RiskSignals:
    has_baseline: bool = False
    known_device: bool = False
    known_ip: bool = False
    new_device: bool = False
    new_country: bool = False

    @property
    def familiar(self) -> bool:
        """A recognised device at an address and in a country the owner signed in from: the only
        sign-in on which a remembered device waives an enrolled second factor (a stolen device
        token used from the thief's address still meets the TOTP)."""
        return self.known_device and self.known_ip and not self.new_country

    @property
    def known_client(self) -> bool:
        """The owner signed in from this device or this address before."""
        return self.known_device or self.known_ip

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "known_client": self.known_client}


NO_ACCOUNT = RiskSignals()


def assess(db: DbSession, account_id: str, context: RequestContext) -> RiskSignals:
    """The signals of a sign-in to ``account_id`` from ``context``, against the account's history.

    One round trip of EXISTS probes (each stops at its first match), so the cost stays flat
    however long the account's history grows.
    """
    successes = select(SignInAttempt.id).where(
        SignInAttempt.account_id == account_id, SignInAttempt.outcome.in_(SUCCESSES)
    )
    probes = [
        successes.exists(),
        successes.where(SignInAttempt.ip == context.ip).exists(),
        successes.where(SignInAttempt.country == context.country).exists() if context.country else literal(False),
        select(KnownDevice.id)
        .where(KnownDevice.account_id == account_id, KnownDevice.device_id == context.device_id)
        .exists()
        if context.device_id
        else literal(False),
        select(KnownDevice.id).where(KnownDevice.account_id == account_id).exists()
        if not context.device_id
        else literal(False),
    ]
    row = db.execute(select(*probes)).one()
    any_success, known_ip, known_country, known_device, has_devices = (bool(value) for value in row)
    has_baseline = any_success or known_device
    deviceless_stranger = context.device_id is None and has_devices and not known_ip
    # A token we do not recognise (forged, guessed, rotated out) claims a device: a new one.
    claims_device = context.device_id is not None or context.device_token is not None
    return RiskSignals(
        has_baseline=has_baseline,
        known_device=known_device,
        known_ip=known_ip,
        new_device=has_baseline and not known_device and (claims_device or deviceless_stranger),
        new_country=has_baseline and context.country is not None and not known_country,
    )
