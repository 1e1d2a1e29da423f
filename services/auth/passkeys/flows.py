"""Orchestration of the passkey routes: register, list, rename, remove, sign in with a passkey
alone, and "passkey required".

What each WebAuthn check asks, and why, is :mod:`.policy`; the library calls are
:mod:`.ceremonies`; a passkey as a login's step-up is :mod:`.step_up`. Adding and removing a
passkey and switching "passkey required" are credential changes like a TOTP change: they need a
recent sign-in (the routes' ``RecentSession``), the account's standing must allow changing its
sign-in settings (``Capability.change_totp``: a restricted or frozen account may not), they land in
the audit trail, and the registered address gets a notice with a revert code (story S5).

A refusal whose trace matters (a spent ceremony, an audited failure) is raised as
:class:`KeptRefusal` by the signed-in routes; the sign-in routes commit their trace themselves
before answering, as ``login`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from webauthn.helpers import base64url_to_bytes

from mamori_common.card_numbers import ensure_no_card_number
from mamori_common.problems import KeptRefusal, Problem
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import standing_for
from services.auth.accounts.standing import Capability, ensure_may, standing_of
from services.auth.audit.service import record
from services.auth.changes.flows import notify_change
from services.auth.changes.models import ChangeKind
from services.auth.env import AuthEnv
from services.auth.messages.templates import passkey_action
from services.auth.passkeys import ceremonies, policy, service, step_up
from services.auth.passkeys.ceremonies import CeremonyFailed
from services.auth.passkeys.models import CeremonyPurpose, Passkey, PasskeyCeremony
from services.auth.request_context import RequestContext
from services.auth.sessions.models import Session
from services.auth.sessions.service import TokenPair
from services.auth.signin import factors, risk
from services.auth.signin import service as signin_service
from services.auth.signin.answers import account_closed, account_locked, passkey_cloned
from services.auth.signin.factors import SignInEnv
from services.auth.signin.models import SignInOutcome
from services.auth.signin.policy import Proof
from services.auth.totp import service as totp

ADDED = "passkey_added"
REMOVED = "passkey_removed"
RENAMED = "passkey_renamed"


def _may_change(db: DbSession, account: Account, now: datetime) -> None:
    """Passkeys are sign-in settings, like TOTP: the standing decides (403 account_restricted)."""
    ensure_may(standing_for(db, account, now=now), Capability.change_totp)


def _notice_data(action: str) -> dict[str, Any]:
    return {"action_ja": passkey_action(action, "ja"), "action_en": passkey_action(action, "en")}


def ceremony_expired(known: bool) -> KeptRefusal:
    """410 for this account's ceremony, used or expired; 404 for one it never opened (unknown, or
    another account's: the same answer, so an id reveals nothing of whose it is)."""
    return KeptRefusal(
        410 if known else 404,
        "ceremony_expired",
        "This passkey request is no longer valid (used, expired or unknown). Start again.",
    )


# -- registration --------------------------------------------------------------------------------


def begin_registration(
    db: DbSession, env: AuthEnv, account: Account, *, session: Session
) -> tuple[PasskeyCeremony, dict[str, Any]]:
    """``beginPasskeyRegistration``: a ceremony bound to this account; caller commits."""
    now = env.clock.now()
    _may_change(db, account, now)
    existing = service.active_passkeys(db, account.id)
    if not policy.may_add_passkey(len(existing), env.settings):
        raise Problem(
            409,
            "too_many_passkeys",
            f"This account has {len(existing)} passkeys, the most it may hold. Remove one first.",
        )
    ceremony, challenge = service.open_ceremony(
        db, CeremonyPurpose.registration, account_id=account.id, session_id=session.id, now=now, settings=env.settings
    )
    return ceremony, ceremonies.registration_options(env.settings, account, existing, challenge)


def finish_registration(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    *,
    ceremony_id: str,
    credential: dict[str, Any],
    name: str | None,
    session: Session,
    context: RequestContext,
) -> Passkey:
    """``finishPasskeyRegistration``: verify the attestation, store the passkey, notify. Caller commits.

    The ceremony is spent first, so a refused answer cannot be sent again.
    """
    ensure_no_card_number(name, "name")
    now = env.clock.now()
    _may_change(db, account, now)
    ceremony = service.claim_ceremony(db, ceremony_id, CeremonyPurpose.registration, account_id=account.id, now=now)
    if ceremony is None:
        raise ceremony_expired(service.has_opened(db, ceremony_id, CeremonyPurpose.registration, account.id))
    try:
        new = ceremonies.verify_registration(env.settings, credential, base64url_to_bytes(ceremony.challenge))
    except CeremonyFailed as failed:
        record(
            db,
            account.id,
            step_up.REFUSED,
            context,
            at=now,
            details={"purpose": "registration", "reason": failed.reason[:300]},
        )
        raise KeptRefusal(
            422, "passkey_invalid", "This passkey could not be verified (wrong site, or the check was not completed)."
        ) from None
    if service.by_credential_id(db, new.credential_id) is not None:
        record(
            db,
            account.id,
            step_up.REFUSED,
            context,
            at=now,
            details={"purpose": "registration", "reason": "known credential id"},
        )
        raise KeptRefusal(409, "passkey_exists", "This passkey is already registered.")
    active = service.count_active(db, account.id)
    if not policy.may_add_passkey(active, env.settings):
        raise KeptRefusal(409, "too_many_passkeys", "This account holds the most passkeys it may. Remove one first.")
    passkey = Passkey(
        account_id=account.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
        backed_up=new.backed_up,
        aaguid=new.aaguid,
        name=name or policy.default_name(active),
        created_at=now,
    )
    db.add(passkey)
    try:
        db.flush()
    except IntegrityError:  # the same credential registered at the same moment elsewhere
        db.rollback()
        raise Problem(409, "passkey_exists", "This passkey is already registered.") from None
    record(db, account.id, ADDED, context, at=now, details={"passkey_id": passkey.id, "session_id": session.id})
    notify_change(
        db,
        env,
        account,
        ChangeKind.passkey,
        old_value={"added_passkey_id": passkey.id},
        new_value={"passkey_id": passkey.id},
        context=context,
        session_id=session.id,
        now=now,
        template="passkey_change",
        template_data=_notice_data("added"),
    )
    return passkey


def recovery_codes_for_new_passkey(db: DbSession, env: AuthEnv, account: Account) -> list[str] | None:
    """Fresh recovery codes when the account just enrolled a passkey and has neither TOTP nor an
    unused recovery code; else None. Caller commits.

    The mailbox never stands in for an enrolled passkey (signin/policy.py ``methods_owed``), so
    without these an owner who lost the passkey would have no way back in."""
    if account.totp_enabled or totp.unused_recovery_codes(db, account) > 0:
        return None
    return totp.replace_recovery_codes(db, account, count=env.settings.recovery_code_count, now=env.clock.now())


# -- list, rename, remove ------------------------------------------------------------------------


def _own(db: DbSession, account: Account, passkey_id: str) -> Passkey:
    passkey = service.own_passkey(db, account.id, passkey_id)
    if passkey is None:
        raise Problem(404, "not_found", "There is no such passkey on this account.")
    return passkey


def rename(
    db: DbSession, account: Account, passkey_id: str, name: str, *, context: RequestContext, now: datetime
) -> Passkey:
    """``renamePasskey``; caller commits."""
    ensure_no_card_number(name, "name")
    passkey = _own(db, account, passkey_id)
    passkey.name = name
    record(db, account.id, RENAMED, context, at=now, details={"passkey_id": passkey.id})
    return passkey


def remove(
    db: DbSession, env: AuthEnv, account: Account, passkey_id: str, *, session: Session, context: RequestContext
) -> None:
    """``deletePasskey``: the last passkey takes "passkey required" with it. Caller commits."""
    now = env.clock.now()
    passkey = _own(db, account, passkey_id)
    _may_change(db, account, now)
    service.remove(passkey, now=now)
    db.flush()
    was_required = account.passkey_required
    account.passkey_required = policy.required_stays_on(was_required, service.count_active(db, account.id))
    turned_off = was_required and not account.passkey_required
    record(
        db,
        account.id,
        REMOVED,
        context,
        at=now,
        details={"passkey_id": passkey.id, "session_id": session.id, "passkey_required_turned_off": turned_off},
    )
    notify_change(
        db,
        env,
        account,
        ChangeKind.passkey,
        old_value={"removed_passkey_id": passkey.id, "passkey_required": was_required},
        new_value={"passkey_required": account.passkey_required},
        context=context,
        session_id=session.id,
        now=now,
        template="passkey_change",
        template_data=_notice_data("removed_last" if turned_off else "removed"),
    )


# -- "passkey required" --------------------------------------------------------------------------


def set_required(
    db: DbSession, env: AuthEnv, account: Account, required: bool, *, session: Session, context: RequestContext
) -> list[str] | None:
    """``setPasskeyRequired``; the fresh recovery codes when turning it on issued some. Caller commits.

    Turning it on without unused recovery codes issues a set, so losing the passkey never locks
    the owner out. Setting it to what it is already changes nothing and mails nothing.
    """
    now = env.clock.now()
    _may_change(db, account, now)
    if required == account.passkey_required:
        return None
    if required and service.count_active(db, account.id) == 0:
        raise Problem(409, "no_passkey", 'Add a passkey before turning on "passkey required".')
    codes = None
    if required and totp.unused_recovery_codes(db, account) == 0:
        codes = totp.replace_recovery_codes(db, account, count=env.settings.recovery_code_count, now=now)
    account.passkey_required = required
    record(
        db,
        account.id,
        "passkey_required_on" if required else "passkey_required_off",
        context,
        at=now,
        details={"session_id": session.id, "recovery_codes_issued": codes is not None},
    )
    notify_change(
        db,
        env,
        account,
        ChangeKind.passkey_required,
        old_value={"passkey_required": not required},
        new_value={"passkey_required": required},
        context=context,
        session_id=session.id,
        now=now,
        template="passkey_change",
        template_data=_notice_data("required_on" if required else "required_off"),
    )
    return codes


# -- sign-in with a passkey alone ----------------------------------------------------------------


def begin_sign_in(db: DbSession, env: SignInEnv, *, context: RequestContext) -> tuple[PasskeyCeremony, dict[str, Any]]:
    """``beginPasskeySignIn``: a discoverable ceremony (no account named), counted per address."""
    now = env.clock.now()
    wait = env.throttle.client_wait(context.ip) or env.quotas.spend(
        quotas.passkey_sign_in_ceremonies(env.settings), context.ip
    )
    if wait:
        raise rate_limited(wait)
    ceremony, challenge = service.open_ceremony(
        db, CeremonyPurpose.sign_in, account_id=None, session_id=None, now=now, settings=env.settings
    )
    options = ceremonies.authentication_options(env.settings, challenge, "sign_in")
    db.commit()
    return ceremony, options


def passkey_invalid() -> Problem:
    return Problem(
        401, "passkey_invalid", "This passkey did not sign you in. Try again, or sign in with your password."
    )


def finish_sign_in_with_passkey(
    db: DbSession, env: SignInEnv, *, ceremony_id: str, credential: dict[str, Any], context: RequestContext
) -> TokenPair:
    """``finishPasskeySignIn``: tokens, or one 401 ``passkey_invalid`` for every failure (unknown
    credential, bad signature, wrong origin or rp id, replayed or expired ceremony), so nothing is
    learnt from the answer; 401 ``passkey_cloned``, 423 and 403 as ``login`` answers them."""
    now = env.clock.now()
    wait = env.throttle.client_wait(context.ip)
    if wait:
        raise rate_limited(wait)

    def refuse(reason: str, account_id: str | None = None) -> Problem:
        env.throttle.record_failure(context.ip, None, foreign=True)
        signin_service.record_attempt(
            db,
            account_id,
            SignInOutcome.bad_credentials,
            context,
            now=now,
            signals={"method": "passkey", "reason": reason[:300]},
        )
        if account_id is not None:
            record(
                db, account_id, step_up.REFUSED, context, at=now, details={"purpose": "sign_in", "reason": reason[:300]}
            )
        db.commit()
        return passkey_invalid()

    ceremony = service.claim_ceremony(db, ceremony_id, CeremonyPurpose.sign_in, account_id=None, now=now)
    if ceremony is None:
        raise refuse("unknown, used or expired ceremony")
    try:
        parsed = ceremonies.parse_assertion(credential)
    except CeremonyFailed as failed:
        raise refuse(failed.reason) from None
    passkey = service.by_credential_id(db, ceremonies.credential_id_of(parsed))
    if passkey is None or passkey.removed_at is not None:
        raise refuse("unknown or removed credential")
    account = db.get(Account, passkey.account_id)
    assert account is not None  # a foreign key
    try:
        assertion = ceremonies.verify_assertion(
            env.settings, parsed, base64url_to_bytes(ceremony.challenge), passkey, "sign_in"
        )
    except CeremonyFailed as failed:
        raise refuse(failed.reason, account.id) from None
    if assertion.counter_regressed:
        step_up.counter_regressed(
            db, account.id, passkey.id, passkey.sign_count, assertion.sign_count, context, now=now
        )
        env.throttle.record_failure(context.ip, None, foreign=True)
        signin_service.record_attempt(
            db, account.id, SignInOutcome.refused, context, now=now, signals={"method": "passkey", "reason": "counter"}
        )
        db.commit()
        raise passkey_cloned()
    state = standing_of(account, (), now=now).state  # restrictions never change a sign-in's answer
    if state is AccountState.frozen:  # the password was invalidated; the passkey waits for the reset too
        raise refuse("account frozen", account.id)
    if state in (AccountState.closed, AccountState.locked):
        outcome = SignInOutcome.refused if state is AccountState.closed else SignInOutcome.locked
        signin_service.record_attempt(db, account.id, outcome, context, now=now, signals={"method": "passkey"})
        db.commit()
        raise account_closed(account) if state is AccountState.closed else account_locked(account)
    passkey.sign_count = assertion.sign_count
    passkey.backed_up = assertion.backed_up
    passkey.last_used_at = now
    # Verified by the user (PIN or biometrics): two factors in one, so the door owes nothing more.
    passed = factors.admit(
        db,
        env,
        account,
        context,
        risk.assess(db, account.id, context),
        {Proof.passkey},
        reasons=(),
        now=now,
        outcome=SignInOutcome.success,
        notes={"method": "passkey", "passkey_id": passkey.id},
    )
    db.commit()
    if isinstance(passed, Problem):
        raise passed
    return passed
