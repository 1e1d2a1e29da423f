"""Orchestration of password resets (story S5): ask for a code, set a new password with it, and
the re-check list after a recovery.

A reset is how a frozen account comes back (once its cool-down is over) and also lifts a
temporary lock: proof of the mailbox is what ``requestUnlock`` asks for too. What a reset does to
the account's standing is the state machine's (:func:`services.auth.accounts.standing.recover`).
Every function here leaves the commit to its caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import case_number
from mamori_common.problems import Problem
from services.auth import quotas
from services.auth.accounts import standing
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import check_new_password, find_by_email, standing_for
from services.auth.accounts.standing import Actor, Transition
from services.auth.audit.service import record
from services.auth.env import AuthEnv
from services.auth.messages.service import file_message
from services.auth.messages.templates import language_of, recheck_list
from services.auth.request_context import RequestContext
from services.auth.resets import service
from services.auth.sessions.service import revoke_sessions
from services.auth.signin import service as signin_service
from services.auth.signin.throttle import Throttle, account_key

#: What a customer recovering from a freeze is asked to re-check (story S5): an intruder may have
#: added a card or an address, or signed up for a subscription.
RECHECK_AFTER_FREEZE: tuple[str, ...] = ("payment_methods", "addresses", "subscriptions")


def request_password_reset(db: DbSession, env: AuthEnv, email: str, *, context: RequestContext) -> None:
    """Mail the owner of ``email`` a reset code, or, while a freeze cools down, when it opens.

    Says nothing to the caller either way. Each account gets at most ``reset_mails_per_account``
    such mails per window (:func:`services.auth.quotas.reset_mails`); more requests are recorded
    and dropped. Caller commits.
    """
    now = env.clock.now()
    account = find_by_email(db, email)
    if account is None or account.state is AccountState.closed:
        return
    if env.quotas.spend(quotas.reset_mails(env.settings), account.id):
        record(db, account.id, "password_reset_requested", context, at=now, details={"outcome": "suppressed"})
        return
    if standing.reset_cooling_down(account, now):
        if account.reset_opens_at is not None:
            template = "reset_cooldown"
            data: dict[str, Any] = {"opens_at": account.reset_opens_at, "case_id": account.state_case_id}
        else:
            template, data = "reset_held", {"case_id": account.state_case_id}
        file_message(db, account, template, data, encryptor=env.encryptor, now=now)
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
    token = service.new_reset_token(db, account, now=now, settings=env.settings)
    file_message(
        db,
        account,
        "password_reset",
        {"token": token, "minutes": env.settings.reset_token_seconds // 60},
        encryptor=env.encryptor,
        now=now,
    )
    record(db, account.id, "password_reset_requested", context, at=now, details={"outcome": "token_sent"})


@dataclass(frozen=True)
class ResetDone:
    sessions_ended: int
    recheck_items: list[str]


def _cooling_down(account: Account, now: Any) -> Problem:
    opens = account.reset_opens_at
    headers = {"Retry-After": str(max(1, math.ceil((opens - now).total_seconds())))} if opens else {}
    return Problem(
        423,
        "reset_cooling_down",
        "This account was frozen to protect it; a password reset opens only after a cool-down.",
        headers=headers,
        opens_at=opens.isoformat() if opens else None,
        case_id=account.state_case_id,
        case_number=case_number(account.state_case_id) if account.state_case_id else None,
    )


def confirm_password_reset(
    db: DbSession,
    env: AuthEnv,
    token: str,
    new_password: str,
    *,
    end_other_sessions: bool,
    context: RequestContext,
) -> ResetDone:
    """Set a new password with a mailed reset token. Signs nobody in. Caller commits.

    It brings a frozen account back once its cool-down is over, and then asks the owner to
    re-check what an intruder may have touched; it lifts a lock; restrictions stay.
    """
    now = env.clock.now()
    row = service.find_reset_token(db, token)
    if row is None:
        raise Problem(404, "invalid_reset_token", "This reset code is not known. Ask for a new one.")
    if row.used_at is not None or now >= row.expires_at:
        raise Problem(410, "invalid_reset_token", "This reset code has expired or was already used. Ask for a new one.")
    account = db.get(Account, row.account_id)
    if account is None or account.state is AccountState.closed:
        raise Problem(404, "invalid_reset_token", "This reset code is not known. Ask for a new one.")
    if standing.reset_cooling_down(account, now):
        raise _cooling_down(account, now)
    check_new_password(new_password, email=account.email, name=account.name)
    if not service.claim_reset_token(db, row, now=now):
        raise Problem(410, "invalid_reset_token", "This reset code has expired or was already used. Ask for a new one.")

    standing.ensure_may_make(Transition.recover, Actor.customer, standing_for(db, account, now=now))
    account.password_hash = env.passwords.hash(new_password)
    account.password_changed_at = now
    recovered_case = standing.recover(account)
    if recovered_case is not None:
        account.recheck_items = json.dumps(list(RECHECK_AFTER_FREEZE))
    service.void_reset_tokens(db, account.id, now=now)
    # The mailbox is proven from this client: its next sign-in is not sent to the mailbox again
    # (the enrolled factors are still asked), and the delays its earlier failures earned are over.
    signin_service.note_reset_proof(db, account.id, context, now=now, seconds=env.settings.reset_token_seconds)
    Throttle(env.settings, env.quotas).forgive(account_key(account.email), context.ip)
    ended = revoke_sessions(db, account.id, now=now, reason="password_reset") if end_other_sessions else []

    recheck = json.loads(account.recheck_items) if account.recheck_items else []
    recheck_text = recheck_list(recheck, language_of(account.language))
    file_message(db, account, "password_reset_done", {"recheck": recheck_text}, encryptor=env.encryptor, now=now)
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
    db: DbSession, env: AuthEnv, account: Account, items: Sequence[str] | None, *, context: RequestContext
) -> list[str]:
    """Tick off re-check items (all when ``items`` is None); return what is left. Caller commits."""
    current = json.loads(account.recheck_items) if account.recheck_items else []
    left = [] if items is None else [item for item in current if item not in set(items)]
    account.recheck_items = json.dumps(left) if left else None
    record(
        db,
        account.id,
        "recheck_acknowledged",
        context,
        at=env.clock.now(),
        details={"items": items or current, "left": left},
    )
    return left
