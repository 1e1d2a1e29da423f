"""Orchestration of account changes and their way back (story S5).

Every change of a contact or credential (e-mail, password, phone, TOTP) goes through
:func:`notify_change`: the OLD contact gets a notice with a revert code valid for
``revert_code_days``. Whoever holds that code can say "this was not me" without signing in
(:func:`revert_change`): the change, and every change made after it, is undone and the account is
frozen (:func:`~services.auth.freezing.flows.freeze_account`): password invalidated, every session revoked, orders and an
intrusion case told through the outbox. The owner comes back through a password reset that opens
only after ``reset_cooldown_after_freeze_seconds`` (``resets/``), and is then shown what to re-check.
Freezing itself is ``freezing/``.

Every function here leaves the commit to its caller; a refusal whose trace must be kept (a wrong
code counted, a refused attempt audited) is raised as :class:`KeptRefusal`, which the request's
session commits before answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import KeptRefusal, Problem
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import check_new_password, find_by_email, normalise_email, standing_for
from services.auth.accounts.standing import Capability, ensure_may
from services.auth.audit.service import record
from services.auth.changes import service
from services.auth.changes.models import AccountChange, ChangeKind
from services.auth.env import AuthEnv
from services.auth.freezing.flows import freeze_account
from services.auth.intrusion.watch import note_change
from services.auth.messages.service import file_message
from services.auth.messages.templates import changed_thing, language_of
from services.auth.passkeys import service as passkeys
from services.auth.request_context import RequestContext
from services.auth.sessions.models import Session
from services.auth.sessions.service import revoke_sessions
from services.auth.signin.challenges import CodeCheck, check_code, create_challenge
from services.auth.signin.models import Challenge, ChallengePurpose
from services.auth.totp.models import RecoveryCode


def ensure_may_change(db: DbSession, account: Account, capability: Capability, now: datetime) -> None:
    """403 ``account_restricted`` naming the case unless the account's standing allows the change."""
    ensure_may(standing_for(db, account, now=now), capability)


# -- notices with a revert code -----------------------------------------------------------------


def notify_change(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    kind: ChangeKind,
    *,
    old_value: dict[str, Any],
    new_value: dict[str, Any],
    context: RequestContext,
    session_id: str | None,
    now: datetime,
    template: str = "change_notice",
    template_data: dict[str, Any] | None = None,
) -> AccountChange:
    """Record a change and tell the OLD contact, with a code that reverts it. Caller commits.

    ``template`` and ``template_data`` let a domain say more than "X was changed" (passkeys say
    which change, in ``passkey_change``); the revert code and its days are always there.

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
        settings=env.settings,
    )
    message = file_message(
        db,
        account,
        template,
        {
            "what_ja": changed_thing(kind.value, "ja"),
            "what_en": changed_thing(kind.value, "en"),
            **(template_data or {}),
            "at": now,
            "days": env.settings.revert_code_days,
            "revert_code": code,
        },
        encryptor=env.encryptor,
        now=now,
        recipient=contact,
    )
    # A change from a session that signed in from somewhere new may complete an intruder's pattern.
    note_change(db, env, account, kind.value, session_id=session_id, context=context, now=now)
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


# -- e-mail and password changes ----------------------------------------------------------------


@dataclass(frozen=True)
class EmailChangeStarted:
    challenge: Challenge
    sent_to: str


def request_email_change(
    db: DbSession, env: AuthEnv, account: Account, new_email: str, *, session: Session, context: RequestContext
) -> EmailChangeStarted:
    """Mail a code to the NEW address: the change happens only once that code comes back.

    An address already in use answers 409 (the caller is signed in, recently, and the attempts
    are capped by ``email_codes_per_hour`` and per client, so this is no enumeration oracle worth having).
    """
    now = env.clock.now()
    ensure_may_change(db, account, Capability.change_contact, now)
    address = normalise_email(new_email)
    if address == account.email:
        raise Problem(422, "email_unchanged", "This is already the account's e-mail address.")
    # Signed in, but maybe with a stolen session: both quotas hold (known_client=False).
    wait = quotas.spend_code_mail(env.quotas, env.settings, "email-change", account.id, context, known_client=False)
    if wait:
        raise rate_limited(wait)
    if find_by_email(db, address) is not None:
        record(db, account.id, "email_change_refused", context, at=now, details={"reason": "email_taken"})
        raise KeptRefusal(409, "email_taken", "Another account already uses this e-mail address.")
    challenge, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.email_change,
        ["email"],
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={"new_email": address, "session_id": session.id, "ip": context.ip},
    )
    file_message(
        db,
        account,
        "email_change_code",
        {"code": code, "minutes": env.settings.email_code_seconds // 60},
        encryptor=env.encryptor,
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
    CodeCheck.wrong: (403, "invalid_code", "This code is not right. Check the mail at the new address."),
    CodeCheck.expired: (410, "code_expired", "This code has expired. Ask for a new one."),
    CodeCheck.used: (410, "code_used", "This code was already used."),
    CodeCheck.exhausted: (410, "code_exhausted", "Too many wrong codes for this request. Ask for a new one."),
}


def confirm_email_change(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    challenge_id: str,
    code: str,
    *,
    session: Session,
    context: RequestContext,
) -> tuple[str, str]:
    """Switch to the confirmed address and notify the old one; return (new, old). Caller commits.

    A wrong code is counted, and the count kept (:class:`KeptRefusal`), before the error goes out.
    """
    now = env.clock.now()
    challenge = db.get(Challenge, challenge_id)
    if (
        challenge is None
        or challenge.account_id != account.id
        or challenge.purpose is not ChallengePurpose.email_change
    ):
        raise Problem(404, "challenge_not_found", "There is no such e-mail change for this account.")
    ensure_may_change(db, account, Capability.change_contact, now)
    address = str(challenge.context.get("new_email", ""))
    holder = find_by_email(db, address)
    if holder is not None and holder.id != account.id:
        raise Problem(409, "email_taken", "Another account started using this e-mail address meanwhile.")
    outcome = check_code(challenge, code, hasher=env.code_hasher, now=now)
    if outcome is not CodeCheck.accepted:
        status, problem_code, detail = _CODE_PROBLEMS[outcome]
        extra: dict[str, Any] = (
            {"attempts_left": challenge.max_attempts - challenge.attempts} if outcome is CodeCheck.wrong else {}
        )
        raise KeptRefusal(status, problem_code, detail, **extra)
    old = account.email
    account.email = address
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Problem(409, "email_taken", "Another account started using this e-mail address meanwhile.") from None
    notify_change(
        db,
        env,
        account,
        ChangeKind.email,
        old_value={"email": old},
        new_value={"email": address},
        context=context,
        session_id=session.id,
        now=now,
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
    env: AuthEnv,
    account: Account,
    current_password: str,
    new_password: str,
    *,
    end_other_sessions: bool,
    session: Session,
    context: RequestContext,
) -> int:
    """Set a new password after checking the current one; return how many other sessions ended.

    Wrong current passwords are recorded and capped per window, so a stolen session cannot
    guess its way to the password.
    """
    now = env.clock.now()
    ensure_may_change(db, account, Capability.change_password, now)
    failures = quotas.password_change_failures(env.settings)
    wait = env.quotas.wait(failures, account.id)
    if wait:
        raise rate_limited(wait, "Too many attempts. Wait before trying again.")
    check_new_password(new_password, email=account.email, name=account.name)
    if not env.passwords.verify(account.password_hash, current_password).ok:
        env.quotas.add(failures, account.id)
        record(db, account.id, "password_change_rejected", context, at=now, details={"session_id": session.id})
        raise KeptRefusal(403, "wrong_password", "The current password is not right.")
    account.password_hash = env.passwords.hash(new_password)
    account.password_changed_at = now
    ended = (
        revoke_sessions(db, account.id, now=now, reason="password_changed", keep_session_id=session.id)
        if end_other_sessions
        else []
    )
    notify_change(
        db,
        env,
        account,
        ChangeKind.password,
        old_value={},
        new_value={},
        context=context,
        session_id=session.id,
        now=now,
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


def revert_change(db: DbSession, env: AuthEnv, code: str, *, context: RequestContext) -> Reverted:
    """Undo the change the code was mailed for (and every later one), then freeze. Caller commits.

    The code is spent with a conditional UPDATE, so it works once even under concurrent use.
    If the old e-mail address has meanwhile been registered by another account, the address
    cannot come back: the account is frozen all the same, with the reset held until staff
    review the case (an intruder must not keep the account by registering the old address).
    """
    now = env.clock.now()
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
    _restore_passkeys(db, account, change, [change, *later], now=now)

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
    if change.kind is ChangeKind.sign_in:
        reason = (
            "身に覚えのないサインインのご報告を受けて、そのセッションを終了し、その後の変更を取り消して、"
            "アカウントを保護しました。そのセッションからのご注文は保留または取り消します。"
            if language == "ja"
            else "You told us a sign-in was not you, so we ended that session, undid every change made since, and "
            "protected your account. Orders from that session are held or cancelled."
        )
    case_id = freeze_account(
        db,
        env,
        account,
        reason=reason,
        actor="customer",
        context=context,
        now=now,
        window_from=min(starts),
        suspect_session_ids=suspects,
        hold_reset=not email_restored,
        notify_to=None if email_restored else change.notified_contact,
    )
    return Reverted(case_id, account.reset_opens_at, list(dict.fromkeys(kinds)), email_restored)


def _restore_passkeys(
    db: DbSession, account: Account, reported: AccountChange, undone: list[AccountChange], *, now: datetime
) -> None:
    """Passkeys after a revert: every passkey added since the reported change goes (the intruder's,
    whether or not its notice was the one reported), a passkey of the owner's that was removed
    since comes back, and "passkey required" is what it was before, if a passkey is left for it."""
    since = reported.created_at
    passkeys.remove_added_since(db, account.id, since, now=now)
    removed = [
        str(item.old_value["removed_passkey_id"])
        for item in undone
        if item.kind is ChangeKind.passkey and item.old_value.get("removed_passkey_id")
    ]
    passkeys.restore_removed(db, account.id, removed, before=since)
    earlier = next((item.old_value for item in undone if "passkey_required" in item.old_value), None)
    required = bool(earlier["passkey_required"]) if earlier is not None else account.passkey_required
    db.flush()
    account.passkey_required = required and passkeys.count_active(db, account.id) > 0


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
