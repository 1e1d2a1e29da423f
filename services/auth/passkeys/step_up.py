"""A passkey as a login's step-up (wherever TOTP is accepted): the options a ``challenge_required``
carries, and the check of the assertion ``completeChallenge`` gets.

The WebAuthn challenge lives in the login's own challenge row (its ``context``), so it shares that
row's tries, single use and lock rules; it may be answered for ``passkey_ceremony_seconds``.

The passkey registers itself among sign-in's step-up methods (:data:`METHOD`,
:mod:`services.auth.signin.methods`), so sign-in never imports this domain: the passkey domain
builds on sign-in (its passkey-alone sign-in goes through sign-in's door), not the other way round.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from services.auth.accounts.models import Account
from services.auth.audit.service import record
from services.auth.config import AuthSettings
from services.auth.env import AuthEnv
from services.auth.passkeys import ceremonies, policy, service
from services.auth.passkeys.ceremonies import CeremonyFailed
from services.auth.request_context import RequestContext
from services.auth.signin.answers import passkey_cloned
from services.auth.signin.challenges import CodeCheck
from services.auth.signin.methods import Ask, Offer, Verdict, count_try, register
from services.auth.signin.models import Challenge

COUNTER_REGRESSED = "passkey_counter_regressed"
REFUSED = "passkey_refused"


class Answer(str, enum.Enum):
    accepted = "accepted"
    wrong = "wrong"
    #: Signed by the passkey, but its counter went backwards: a cloned authenticator.
    cloned = "cloned"


def options_for(
    db: DbSession, settings: AuthSettings, account: Account, *, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(what the challenge row keeps, the request options JSON), or None without a passkey."""
    passkeys = service.active_passkeys(db, account.id)
    if not passkeys:
        return None
    challenge = policy.new_challenge()
    kept = {
        "passkey_challenge": bytes_to_base64url(challenge),
        "passkey_expires_at": policy.ceremony_deadline(now, settings).isoformat(),
    }
    return kept, ceremonies.authentication_options(settings, challenge, "step_up", allow=passkeys)


def guard_options(settings: AuthSettings, *, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options naming no credential, for the consecutive-failure guard: every account, and an address
    nobody registered, gets the same shape, so the answer lists no credential id of anyone's."""
    challenge = policy.new_challenge()
    kept = {
        "passkey_challenge": bytes_to_base64url(challenge),
        "passkey_expires_at": policy.ceremony_deadline(now, settings).isoformat(),
    }
    return kept, ceremonies.authentication_options(settings, challenge, "step_up", allow=[])


def counter_regressed(
    db: DbSession,
    account_id: str,
    passkey_id: str,
    stored: int,
    received: int,
    context: RequestContext,
    *,
    now: datetime,
) -> None:
    """The security event a cloned authenticator leaves, shown in listSecurityEvents."""
    record(
        db,
        account_id,
        COUNTER_REGRESSED,
        context,
        at=now,
        actor="system",
        reason="A passkey's signature counter went backwards (a copied authenticator?): the sign-in was refused.",
        details={"passkey_id": passkey_id, "stored_count": stored, "received_count": received},
    )


def check(
    db: DbSession,
    settings: AuthSettings,
    account: Account,
    kept: dict[str, Any],
    credential: dict[str, Any] | None,
    context: RequestContext,
    *,
    now: datetime,
) -> Answer:
    """Is ``credential`` an assertion of one of the account's passkeys over the kept challenge?

    On acceptance the passkey's counter and last use are updated; the caller commits either way.
    """
    raw_challenge = kept.get("passkey_challenge")
    deadline = kept.get("passkey_expires_at")
    if not isinstance(raw_challenge, str) or not isinstance(deadline, str) or credential is None:
        return Answer.wrong
    if not policy.ceremony_open(datetime.fromisoformat(deadline), None, now):
        return _refused(db, account, "the step-up's passkey challenge expired", context, now=now)
    try:
        parsed = ceremonies.parse_assertion(credential)
        passkey = service.by_credential_id(db, ceremonies.credential_id_of(parsed))
        if passkey is None or passkey.account_id != account.id or passkey.removed_at is not None:
            raise CeremonyFailed("assertion: not a passkey of this account")
        assertion = ceremonies.verify_assertion(settings, parsed, base64url_to_bytes(raw_challenge), passkey, "step_up")
    except CeremonyFailed as failed:
        return _refused(db, account, failed.reason, context, now=now)
    if assertion.counter_regressed:
        counter_regressed(db, account.id, passkey.id, passkey.sign_count, assertion.sign_count, context, now=now)
        return Answer.cloned
    passkey.sign_count = assertion.sign_count
    passkey.backed_up = assertion.backed_up
    passkey.last_used_at = now
    return Answer.accepted


def _refused(db: DbSession, account: Account, reason: str, context: RequestContext, *, now: datetime) -> Answer:
    record(db, account.id, REFUSED, context, at=now, details={"purpose": "step_up", "reason": reason[:300]})
    return Answer.wrong


class PasskeyStepUp:
    """The passkey as a sign-in step-up method (registered below)."""

    name = "passkey"
    asks = "use your passkey"
    wrong = "This passkey did not pass the check."

    def enrolled(self, db: DbSession, account: Account) -> bool:
        return service.count_active(db, account.id) > 0

    def offer(self, db: DbSession, env: AuthEnv, ask: Ask) -> Offer:
        """The guard's challenge names no credential (for every account alike, and for the decoy);
        otherwise the options name the account's passkeys."""
        if ask.guard:
            kept, options = guard_options(env.settings, now=ask.now)
        elif ask.account is not None and ask.owed:
            found = options_for(db, env.settings, ask.account, now=ask.now)
            if found is None:
                return Offer()
            kept, options = found
        else:
            return Offer()
        return Offer(kept=kept, shown={"passkey_options": options})

    def verify(
        self,
        db: DbSession,
        env: AuthEnv,
        account: Account,
        challenge: Challenge,
        *,
        code: str,
        credential: dict[str, Any] | None,
        context: RequestContext,
        now: datetime,
    ) -> Verdict:
        """A wrong assertion counts as a wrong code; a cloned passkey's too, and says so."""
        answer = check(db, env.settings, account, challenge.context, credential, context, now=now)
        result = count_try(challenge, answer is Answer.accepted, now=now)
        if result is CodeCheck.accepted:
            return Verdict(result)
        return Verdict(result, passkey_cloned() if answer is Answer.cloned else None)


METHOD = register(PasskeyStepUp())
