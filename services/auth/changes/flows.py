"""Orchestration of account changes and their way back (story S5).

Every change of a contact or credential (e-mail, password, phone, TOTP) goes through
:func:`notify_change`: the OLD contact gets a notice with a revert code valid for
``revert_code_days``. Whoever holds that code can say "this was not me" without signing in
(:func:`revert_change`): the change, and every change made after it, is undone and the account is
frozen (:func:`freeze_account`): password invalidated, every session revoked, orders and an
intrusion case told through the outbox. The owner comes back through a password reset that opens
only after ``reset_cooldown_after_freeze_seconds``, and is then shown what to re-check.

Every function here leaves the commit to its caller unless it says otherwise.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import case_number
from mamori_common.events import Outbox
from mamori_common.problems import Problem
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import check_new_password, find_by_email, normalise_email, standing_for
from services.auth.accounts.standing import Actor, Capability, Transition, ensure_may
from services.auth.audit.models import SecurityEvent
from services.auth.audit.service import RequestContext, record
from services.auth.changes import service
from services.auth.changes.models import AccountChange, ChangeKind
from services.auth.config import AuthSettings
from services.auth.credentials.codes import CodeHasher
from services.auth.credentials.encryption import Encryptor
from services.auth.credentials.passwords import Passwords
from services.auth.events import ACCOUNT_FROZEN, SESSION_COMPROMISED
from services.auth.messages.service import file_message
from services.auth.messages.templates import changed_thing, language_of, recheck_list, reset_held_text
from services.auth.sessions.models import Session
from services.auth.sessions.service import revoke_sessions
from services.auth.signin.challenges import CodeCheck, check_code, create_challenge
from services.auth.signin.models import Challenge, ChallengePurpose
from services.auth.totp.models import RecoveryCode

#: What a customer recovering from a freeze is asked to re-check (story S5): an intruder may have
#: added a card or an address, or signed up for a subscription.
RECHECK_AFTER_FREEZE: tuple[str, ...] = ("payment_methods", "addresses", "subscriptions")

def ensure_may_change(db: DbSession, account: Account, capability: Capability, now: datetime) -> None:
    """403 ``account_restricted`` naming the case unless the account's standing allows the change."""
    ensure_may(standing_for(db, account, now=now), capability)


# -- notices with a revert code -----------------------------------------------------------------


def notify_change(
    db: DbSession,
    account: Account,
    kind: ChangeKind,
    *,
    old_value: dict[str, Any],
    new_value: dict[str, Any],
    context: RequestContext,
    session_id: str | None,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> AccountChange:
    """Record a change and tell the OLD contact, with a code that reverts it. Caller commits.

    Call it after the account already holds the new value. ``old_value`` is what a revert restores:

    - e-mail: ``{"email": <old address>}`` (the notice goes to that old address);
    - phone: ``{"phone": <old number or None>}``;
    - TOTP: ``{"totp_secret_encrypted": <old encrypted secret, or None if TOTP was off>}``
      (optionally ``"totp_enabled_at"``, ISO 8601);
    - password: ``{}`` (never store a password or its hash here: the revert freezes the account
      and the owner sets a new one).
    """
    contact = str(old_value["email"]) if kind is ChangeKind.email and old_value.get("email") else account.email
    change, code = service.new_change(
        db,
        account,
        kind,
        old_value=old_value,
        new_value=new_value,
        notified_contact=contact,
        session_id=session_id,
        ip=context.ip,
        now=now,
        settings=settings,
    )
    message = file_message(
        db,
        account,
        "change_notice",
        {
            "what_ja": changed_thing(kind.value, "ja"),
            "what_en": changed_thing(kind.value, "en"),
            "at": now,
            "days": settings.revert_code_days,
            "revert_code": code,
        },
        encryptor=encryptor,
        now=now,
        recipient=contact,
    )
    record(
        db,
        account.id,
        "change_notice_sent",
        context,
        at=now,
        details={
            "change_id": change.id,
            "change": kind.value,
            "to": service.mask_email(contact),
            "reference_code": message.reference_code,
            "revert_until": change.revert_expires_at.isoformat(),
        },
    )
    return change


# -- freezing -----------------------------------------------------------------------------------


def freeze_account(
    db: DbSession,
    account: Account,
    *,
    reason: str,
    actor: str,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    outbox: Outbox,
    encryptor: Encryptor,
    window_from: datetime | None = None,
    suspect_session_ids: Iterable[str] = (),
    hold_reset: bool = False,
    notify_to: str | None = None,
) -> str:
    """Freeze the account after an intrusion; return the intrusion case id. Caller commits.

    The password is invalidated (nobody can sign in with it, owner or intruder), every session is
    revoked and every outstanding reset token spent, and a password reset opens only after the
    cool-down (or, with ``hold_reset``, only once staff open it). Orders and verification learn of
    it through the outbox: ``session.compromised`` names every session revoked and those opened
    inside the suspicious window (from ``window_from``, else the oldest revoked session, to now);
    ``account.frozen`` carries the case id auth minted, so the case can be named at once.

    ``reason`` is shown to the customer (getMe, the freeze mail); ``actor`` is ``customer``,
    ``system`` or ``staff:<account id>``.
    """
    case_id = uuid.uuid4().hex
    revoked = revoke_sessions(db, account.id, now=now, reason="account_frozen")
    if window_from is None:
        created = db.execute(select(Session.created_at).where(Session.id.in_(revoked))).scalars().all()
        window_from = min(created, default=now)
    opened_in_window = db.execute(
        select(Session.id).where(Session.account_id == account.id, Session.created_at >= window_from)
    ).scalars()
    suspects = set(suspect_session_ids) | set(opened_in_window)
    session_ids = sorted(set(revoked) | suspects)

    cool_down = timedelta(seconds=settings.reset_cooldown_after_freeze_seconds)
    standing.freeze(account, case_id=case_id, reason=reason, now=now,
                    reset_opens_at=None if hold_reset else now + cool_down)
    voided = service.void_reset_tokens(db, account.id, now=now)

    outbox.publish(
        db,
        SESSION_COMPROMISED,
        {
            "account_id": account.id,
            "case_id": case_id,
            "session_ids": session_ids,
            "suspicious_session_ids": sorted(suspects),
            "window": {"from": window_from.isoformat(), "to": now.isoformat()},
        },
    )
    outbox.publish(
        db,
        ACCOUNT_FROZEN,
        {
            "case_id": case_id,
            "account_id": account.id,
            "kind": "intrusion",
            "reason": reason,
            "actor": actor,
            "frozen_at": now.isoformat(),
            "reset_opens_at": account.reset_opens_at.isoformat() if account.reset_opens_at else None,
            "session_ids": session_ids,
        },
    )
    file_message(
        db,
        account,
        "account_frozen",
        {"reason": reason, "case_id": case_id, "reset_opens_at": account.reset_opens_at or reset_held_text(language_of(account.language))},
        encryptor=encryptor,
        now=now,
        recipient=notify_to,
    )
    record(
        db,
        account.id,
        "account_frozen",
        context,
        at=now,
        actor=actor,
        reason=reason,
        details={
            "case_id": case_id,
            "sessions_revoked": len(revoked),
            "session_ids": session_ids,
            "reset_tokens_voided": voided,
            "reset_opens_at": account.reset_opens_at.isoformat() if account.reset_opens_at else None,
        },
    )
    return case_id


# -- e-mail and password changes ----------------------------------------------------------------


def _refuse_when_over(
    db: DbSession, account: Account, kinds: tuple[str, ...], *, limit: int, window_seconds: int, now: datetime
) -> None:
    """429 once the account has ``limit`` audit events of ``kinds`` inside the window (app clock)."""
    since = now - timedelta(seconds=window_seconds)
    count, oldest = db.execute(
        select(func.count(), func.min(SecurityEvent.at)).where(
            SecurityEvent.account_id == account.id, SecurityEvent.kind.in_(kinds), SecurityEvent.at > since
        )
    ).one()
    if count >= limit:
        retry_after = max(1, math.ceil((oldest - since).total_seconds()))
        raise Problem(
            429,
            "rate_limited",
            "Too many attempts. Wait before trying again.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class EmailChangeStarted:
    challenge: Challenge
    sent_to: str


def request_email_change(
    db: DbSession,
    account: Account,
    new_email: str,
    *,
    session: Session,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    hasher: CodeHasher,
    encryptor: Encryptor,
) -> EmailChangeStarted:
    """Mail a code to the NEW address: the change happens only once that code comes back.

    An address already in use answers 409 (the caller is signed in, recently, and the attempts
    are capped by ``email_codes_per_hour``, so this is no enumeration oracle worth having).
    """
    ensure_may_change(db, account, Capability.change_contact, now)
    address = normalise_email(new_email)
    if address == account.email:
        raise Problem(422, "email_unchanged", "This is already the account's e-mail address.")
    _refuse_when_over(
        db,
        account,
        ("email_change_requested", "email_change_refused"),
        limit=settings.email_codes_per_hour,
        window_seconds=3600,
        now=now,
    )
    if find_by_email(db, address) is not None:
        db.rollback()
        record(db, account.id, "email_change_refused", context, at=now, details={"reason": "email_taken"})
        db.commit()
        raise Problem(409, "email_taken", "Another account already uses this e-mail address.")
    challenge, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.email_change,
        ["email"],
        hasher=hasher,
        settings=settings,
        now=now,
        context={"new_email": address, "session_id": session.id, "ip": context.ip},
    )
    file_message(
        db,
        account,
        "email_change_code",
        {"code": code, "minutes": settings.email_code_seconds // 60},
        encryptor=encryptor,
        now=now,
        recipient=address,
    )
    record(
        db,
        account.id,
        "email_change_requested",
        context,
        at=now,
        details={"challenge_id": challenge.id, "new_email": service.mask_email(address), "session_id": session.id},
    )
    return EmailChangeStarted(challenge, service.mask_email(address))


_CODE_PROBLEMS = {
    CodeCheck.wrong: (422, "invalid_code", "This code is not right. Check the mail at the new address."),
    CodeCheck.expired: (410, "code_expired", "This code has expired. Ask for a new one."),
    CodeCheck.used: (410, "code_used", "This code was already used."),
    CodeCheck.exhausted: (410, "code_exhausted", "Too many wrong codes for this request. Ask for a new one."),
}


def confirm_email_change(
    db: DbSession,
    account: Account,
    challenge_id: str,
    code: str,
    *,
    session: Session,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    hasher: CodeHasher,
    encryptor: Encryptor,
) -> tuple[str, str]:
    """Switch to the confirmed address and notify the old one; return (new, old). Caller commits.

    A wrong code is counted (and committed) before the error goes out.
    """
    challenge = db.get(Challenge, challenge_id)
    mine = challenge is not None and challenge.account_id == account.id
    if not mine or challenge.purpose is not ChallengePurpose.email_change:
        raise Problem(404, "challenge_not_found", "There is no such e-mail change for this account.")
    ensure_may_change(db, account, Capability.change_contact, now)
    address = str(challenge.context.get("new_email", ""))
    holder = find_by_email(db, address)
    if holder is not None and holder.id != account.id:
        raise Problem(409, "email_taken", "Another account started using this e-mail address meanwhile.")
    outcome = check_code(challenge, code, hasher=hasher, now=now)
    if outcome is not CodeCheck.accepted:
        db.commit()
        status, problem_code, detail = _CODE_PROBLEMS[outcome]
        extra = {"attempts_left": challenge.max_attempts - challenge.attempts} if outcome is CodeCheck.wrong else {}
        raise Problem(status, problem_code, detail, **extra)
    old = account.email
    account.email = address
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Problem(409, "email_taken", "Another account started using this e-mail address meanwhile.") from None
    notify_change(
        db,
        account,
        ChangeKind.email,
        old_value={"email": old},
        new_value={"email": address},
        context=context,
        session_id=session.id,
        now=now,
        settings=settings,
        encryptor=encryptor,
    )
    record(
        db,
        account.id,
        "email_changed",
        context,
        at=now,
        details={"from": service.mask_email(old), "to": service.mask_email(address), "session_id": session.id},
    )
    return address, old


def change_password(
    db: DbSession,
    account: Account,
    current_password: str,
    new_password: str,
    *,
    end_other_sessions: bool,
    session: Session,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    passwords: Passwords,
    encryptor: Encryptor,
) -> int:
    """Set a new password after checking the current one; return how many other sessions ended.

    Wrong current passwords are recorded and capped per window, so a stolen session cannot
    guess its way to the password.
    """
    ensure_may_change(db, account, Capability.change_password, now)
    _refuse_when_over(
        db,
        account,
        ("password_change_rejected",),
        limit=settings.password_change_failures_per_window,
        window_seconds=settings.password_change_failure_window_seconds,
        now=now,
    )
    check_new_password(new_password, email=account.email, name=account.name)
    if not passwords.verify(account.password_hash, current_password).ok:
        db.rollback()
        record(db, account.id, "password_change_rejected", context, at=now, details={"session_id": session.id})
        db.commit()
        raise Problem(403, "wrong_password", "The current password is not right.")
    account.password_hash = passwords.hash(new_password)
    account.password_changed_at = now
    ended = (
        revoke_sessions(db, account.id, now=now, reason="password_changed", keep_session_id=session.id)
        if end_other_sessions
        else []
    )
    notify_change(
        db,
        account,
        ChangeKind.password,
        old_value={},
        new_value={},
        context=context,
        session_id=session.id,
        now=now,
        settings=settings,
        encryptor=encryptor,
    )
    record(
        db,
        account.id,
        "password_changed",
        context,
        at=now,
        details={"session_id": session.id, "sessions_ended": len(ended)},
    )
    return len(ended)


# -- revert -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reverted:
    case_id: str
    reset_opens_at: datetime | None
    kinds: list[ChangeKind]
    email_restored: bool


def revert_change(
    db: DbSession,
    code: str,
    *,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    outbox: Outbox,
    encryptor: Encryptor,
) -> Reverted:
    """Undo the change the code was mailed for (and every later one), then freeze. Caller commits.

    The code is spent with a conditional UPDATE, so it works once even under concurrent use.
    If the old e-mail address has meanwhile been registered by another account, the address
    cannot come back: the account is frozen all the same, with the reset held until staff
    review the case (an intruder must not keep the account by registering the old address).
    """
    change = service.find_change_by_code(db, code)
    if change is None:
        raise Problem(404, "unknown_revert_code", "This revert code is not known. Check it against the mail.")
    if change.reverted_at is not None:
        raise Problem(410, "revert_code_used", "This change was already undone, and the account protected.")
    if now >= change.revert_expires_at:
        raise Problem(410, "revert_code_expired", "This revert code has expired. Contact support to report the change.")
    account = db.get(Account, change.account_id)
    if account is None or account.state is AccountState.closed:
        raise Problem(409, "account_closed", "This account is closed.")
    if not service.claim_change(db, change, now=now):
        raise Problem(410, "revert_code_used", "This change was already undone, and the account protected.")
    later = service.later_changes(db, change)
    service.mark_reverted(db, later, now=now)

    # What each kind goes back to: the value before the earliest undone change of that kind.
    restore: dict[ChangeKind, dict[str, Any]] = {change.kind: dict(change.old_value)}
    for item in later:
        restore.setdefault(item.kind, dict(item.old_value))
    email_restored = _restore(db, account, restore, now=now)

    kinds = [change.kind, *(item.kind for item in later)]
    for item in [change, *later]:
        record(
            db,
            account.id,
            "change_reverted",
            context,
            at=now,
            details={"change_id": item.id, "change": item.kind.value, "reported_change_id": change.id},
        )
    suspects = {item.session_id for item in [change, *later] if item.session_id}
    starts = [change.created_at]
    if suspects:
        starts += list(db.execute(select(Session.created_at).where(Session.id.in_(suspects))).scalars())
    language = language_of(account.language)
    what = changed_thing(change.kind.value, language)
    reason = (
        f"身に覚えのない変更（{what}）のご報告を受けて変更を取り消し、アカウントを保護しました。"
        if language == "ja"
        else f"You told us you did not change your {what}, so we undid the change and protected your account."
    )
    case_id = freeze_account(
        db,
        account,
        reason=reason,
        actor="customer",
        context=context,
        now=now,
        settings=settings,
        outbox=outbox,
        encryptor=encryptor,
        window_from=min(starts),
        suspect_session_ids=suspects,
        hold_reset=not email_restored,
        notify_to=None if email_restored else change.notified_contact,
    )
    return Reverted(case_id, account.reset_opens_at, list(dict.fromkeys(kinds)), email_restored)


def _restore(db: DbSession, account: Account, restore: dict[ChangeKind, dict[str, Any]], *, now: datetime) -> bool:
    """Put back the old values; False if the old e-mail could not come back (taken meanwhile)."""
    email_restored = True
    if ChangeKind.email in restore:
        old = restore[ChangeKind.email].get("email")
        if old and old != account.email:
            holder = find_by_email(db, str(old))
            if holder is not None and holder.id != account.id:
                email_restored = False
            else:
                account.email = str(old)
    if ChangeKind.phone in restore:
        phone = restore[ChangeKind.phone].get("phone")
        account.phone = str(phone) if phone else None
    if ChangeKind.totp in restore:
        secret = restore[ChangeKind.totp].get("totp_secret_encrypted")
        account.totp_last_step = None
        if secret:
            account.totp_secret_encrypted = str(secret)
            enabled_at = restore[ChangeKind.totp].get("totp_enabled_at")
            account.totp_enabled_at = datetime.fromisoformat(str(enabled_at)) if enabled_at else now
        else:
            # TOTP was off before: the intruder's authenticator and its recovery codes go.
            account.totp_secret_encrypted = None
            account.totp_enabled_at = None
            db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    # A password has nothing to restore: the freeze invalidates it and the owner sets a new one.
    db.flush()
    return email_restored


# -- password reset -----------------------------------------------------------------------------


def request_password_reset(
    db: DbSession,
    email: str,
    *,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    encryptor: Encryptor,
) -> None:
    """Mail the owner of ``email`` a reset code, or, while a freeze cools down, when it opens.

    Says nothing to the caller either way. Each account gets at most ``reset_mails_per_account``
    such mails per window; more requests are recorded and dropped. Caller commits.
    """
    account = find_by_email(db, email)
    if account is None or account.state is AccountState.closed:
        return
    since = now - timedelta(seconds=settings.reset_mail_window_seconds)
    if service.reset_mails_since(db, account.id, since) >= settings.reset_mails_per_account:
        record(db, account.id, "password_reset_requested", context, at=now, details={"outcome": "suppressed"})
        return
    if standing.reset_cooling_down(account, now):
        if account.reset_opens_at is not None:
            template = "reset_cooldown"
            data: dict[str, Any] = {"opens_at": account.reset_opens_at, "case_id": account.state_case_id}
        else:
            template, data = "reset_held", {"case_id": account.state_case_id}
        file_message(db, account, template, data, encryptor=encryptor, now=now)
        record(
            db,
            account.id,
            "password_reset_requested",
            context,
            at=now,
            details={
                "outcome": "cooling_down",
                "opens_at": account.reset_opens_at.isoformat() if account.reset_opens_at else None,
            },
        )
        return
    token = service.new_reset_token(db, account, now=now, settings=settings)
    file_message(
        db,
        account,
        "password_reset",
        {"token": token, "minutes": settings.reset_token_seconds // 60},
        encryptor=encryptor,
        now=now,
    )
    record(db, account.id, "password_reset_requested", context, at=now, details={"outcome": "token_sent"})


@dataclass(frozen=True)
class ResetDone:
    sessions_ended: int
    recheck_items: list[str]


def confirm_password_reset(
    db: DbSession,
    token: str,
    new_password: str,
    *,
    end_other_sessions: bool,
    context: RequestContext,
    now: datetime,
    settings: AuthSettings,
    passwords: Passwords,
    encryptor: Encryptor,
) -> ResetDone:
    """Set a new password with a mailed reset token. Signs nobody in. Caller commits.

    Proof of the mailbox is what ``requestUnlock`` asks for too, so a reset also lifts a
    temporary lock; it brings a frozen account back to active once its cool-down is over, and
    then asks the owner to re-check what an intruder may have touched.
    """
    row = service.find_reset_token(db, token)
    if row is None:
        raise Problem(400, "invalid_reset_token", "This reset code is not known. Ask for a new one.")
    if row.used_at is not None or now >= row.expires_at:
        raise Problem(410, "invalid_reset_token", "This reset code has expired or was already used. Ask for a new one.")
    account = db.get(Account, row.account_id)
    if account is None or account.state is AccountState.closed:
        raise Problem(400, "invalid_reset_token", "This reset code is not known. Ask for a new one.")
    if standing.reset_cooling_down(account, now):
        opens = account.reset_opens_at
        headers = {"Retry-After": str(max(1, math.ceil((opens - now).total_seconds())))} if opens else {}
        raise Problem(
            423,
            "reset_cooling_down",
            "This account was frozen to protect it; a password reset opens only after a cool-down.",
            headers=headers,
            opens_at=opens.isoformat() if opens else None,
            case_id=account.state_case_id,
            case_number=case_number(account.state_case_id) if account.state_case_id else None,
        )
    check_new_password(new_password, email=account.email, name=account.name)
    if not service.claim_reset_token(db, row, now=now):
        raise Problem(410, "invalid_reset_token", "This reset code has expired or was already used. Ask for a new one.")

    standing.ensure_may_make(Transition.recover, Actor.customer, standing_for(db, account, now=now))
    account.password_hash = passwords.hash(new_password)
    account.password_changed_at = now
    recovered_case = standing.recover(account)
    if recovered_case is not None:
        account.recheck_items = json.dumps(list(RECHECK_AFTER_FREEZE))
    service.void_reset_tokens(db, account.id, now=now)
    ended = revoke_sessions(db, account.id, now=now, reason="password_reset") if end_other_sessions else []

    recheck = json.loads(account.recheck_items) if account.recheck_items else []
    recheck_text = recheck_list(recheck, language_of(account.language))
    file_message(db, account, "password_reset_done", {"recheck": recheck_text}, encryptor=encryptor, now=now)
    record(
        db,
        account.id,
        "password_reset",
        context,
        at=now,
        details={"sessions_ended": len(ended), "recovered_from_case": recovered_case, "recheck_items": recheck},
    )
    return ResetDone(len(ended), recheck)


def acknowledge_recheck(
    db: DbSession, account: Account, items: list[str] | None, *, context: RequestContext, now: datetime
) -> list[str]:
    """Tick off re-check items (all when ``items`` is None); return what is left. Caller commits."""
    current = json.loads(account.recheck_items) if account.recheck_items else []
    left = [] if items is None else [item for item in current if item not in set(items)]
    account.recheck_items = json.dumps(left) if left else None
    record(db, account.id, "recheck_acknowledged", context, at=now, details={"items": items or current, "left": left})
    return left
