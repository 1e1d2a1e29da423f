"""Staff actions on customer accounts: freeze, unlock, read the status (story S5, S1).

Each action is audited on the customer's account with the staff member as actor
(``staff:<account id>``) and the reason they gave. Specialists act on customers only; acting on a
staff account takes an admin, and nobody acts on their own account.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common.card_numbers import ensure_no_card_number
from mamori_common.problems import Problem
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState, Role
from services.auth.accounts.service import standing_for
from services.auth.accounts.standing import Actor, Transition, ensure_may_make
from services.auth.audit.service import record
from services.auth.changes.service import mask_email
from services.auth.env import AuthEnv
from services.auth.freezing.flows import freeze_account
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.staff.schemas import AccountStatus


def actor_of(staff: Account) -> str:
    return f"staff:{staff.id}"


def actor_role(staff: Account) -> Actor:
    """The staff member as the account state machine knows them (by role)."""
    return Actor(staff.role.value)


def target_account(db: DbSession, account_id: str) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        raise Problem(404, "account_not_found", "There is no account with this id.")
    return account


def ensure_may_act_on(staff: Account, target: Account) -> None:
    if target.id == staff.id:
        raise Problem(403, "forbidden", "Staff do not act on their own account.")
    if target.role is not Role.customer and staff.role is not Role.admin:
        raise Problem(403, "forbidden", "Only an admin acts on a staff account.")


def freeze(
    db: DbSession, env: AuthEnv, target: Account, staff: Account, reason: str, *, context: RequestContext
) -> str:
    """Freeze as after a reported intrusion; return the case id. Caller commits."""
    ensure_no_card_number(reason, "reason")
    now = env.clock.now()
    ensure_may_act_on(staff, target)
    ensure_may_make(Transition.freeze, actor_role(staff), standing_for(db, target, now=now))
    return freeze_account(db, env, target, reason=reason, actor=actor_of(staff), context=context, now=now)


_RESET_OPEN_NOTICE = {
    "subject_ja": "パスワードの再設定ができるようになりました",
    "body_ja": "担当者が確認し、アカウントのパスワード再設定を開始できるようにしました。"
    "ポータルの「パスワード再設定」から新しいパスワードを設定してください。",
    "subject_en": "You can reset your password now",
    "body_en": "Our staff reviewed your account and opened the password reset. Set a new password under "
    '"Reset password" in the portal.',
}
_UNLOCKED_NOTICE = {
    "subject_ja": "アカウントのロックを解除しました",
    "body_ja": "担当者がアカウントのロックを解除しました。いつものパスワードでサインインできます。",
    "subject_en": "Your account is unlocked",
    "body_en": "Our staff unlocked your account. You can sign in with your password.",
}


def unlock(
    db: DbSession, env: AuthEnv, target: Account, staff: Account, reason: str, *, context: RequestContext
) -> None:
    """Lift a lock; for a frozen account, open the reset at once. Caller commits.

    A freeze invalidated the password, so unlocking a frozen account does not make it usable by
    itself: the owner still proves their mailbox with a reset (which is what ends the freeze).
    """
    ensure_no_card_number(reason, "reason")
    now = env.clock.now()
    ensure_may_act_on(staff, target)
    current = standing_for(db, target, now=now)
    if current.state is AccountState.frozen:
        ensure_may_make(Transition.open_reset, actor_role(staff), current)
        standing.open_reset(target, now=now)
        action, notice = "password_reset_opened", _RESET_OPEN_NOTICE
        details = {"case_id": target.state_case_id, "reset_opens_at": now.isoformat()}
    else:
        ensure_may_make(Transition.unlock, actor_role(staff), current)
        action, notice = "account_unlocked", _UNLOCKED_NOTICE
        details = {"case_id": standing.unlock(target)}
    file_message(db, target, "notice", dict(notice), encryptor=env.encryptor, now=now)
    record(db, target.id, action, context, at=now, actor=actor_of(staff), reason=reason, details=details)


def status_of(db: DbSession, account: Account, *, now: datetime) -> AccountStatus:
    current = standing_for(db, account, now=now)
    return AccountStatus(
        account_id=account.id,
        email=mask_email(account.email),
        role=account.role,
        state=current.state,
        state_reason=current.reason,
        case_id=current.case_id,
        case_number=current.case_number,
        restricting_case_ids=current.restricting_case_ids,
        locked_until=current.locked_until,
        frozen_at=account.frozen_at,
        reset_opens_at=account.reset_opens_at,
        password_set=account.password_hash is not None,
        totp_enabled=account.totp_enabled,
        recheck_items=json.loads(account.recheck_items) if account.recheck_items else [],
        created_at=account.created_at,
    )
