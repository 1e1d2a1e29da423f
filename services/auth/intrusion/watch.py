"""Watching sessions from somewhere new, and acting when one moves like an intruder (story S2).

A sign-in from a new device or country gets a :class:`WatchedSession` (``sign_ins.py``). Every
move that session makes is noted here: account changes from ``changes/flows.py``
(:func:`note_change`) and orders' ``order.risk_signals`` (:func:`handle_order_risk_signals`). When
``policy.judge_session`` says the pattern is an intruder's, the account is frozen the one way
every actor freezes it (``freezing/flows.py``): every session revoked, the password invalidated,
orders told to undo that session's orders (``session.compromised``), verification told to open
the intrusion case (``account.frozen``), and the freeze mailed at once to the OLD contact, the
address the account had when the session began, which the intruder may since have changed.
If they did, the reset stays held until the owner reverts that change from the notice at the old
address (or staff open it): a reset must never go to the intruder's new address.

Every function here leaves the commit to its caller (a request, or the events inbox).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common import contract
from mamori_common.events import EventEnvelope
from mamori_common.problems import Problem
from services.auth.accounts.models import Account, AccountState
from services.auth.audit.service import record
from services.auth.env import AuthEnv, env_of
from services.auth.freezing.flows import freeze_account
from services.auth.intrusion import policy
from services.auth.intrusion.models import WatchedSession
from services.auth.messages.templates import language_of
from services.auth.request_context import SYSTEM, RequestContext

logger = logging.getLogger("mamori.auth.intrusion")

#: How the customer reads each reason (the freeze mail, getMe, the case).
_WORDS = {
    "new_device": {"ja": "新しい端末", "en": "a new device"},
    "new_country": {"ja": "新しい国・地域", "en": "a new country"},
    "password_change": {"ja": "パスワードの変更", "en": "a password change"},
    "email_change": {"ja": "メールアドレスの変更", "en": "an e-mail address change"},
    "phone_change": {"ja": "電話番号の変更", "en": "a phone number change"},
    "totp_change": {"ja": "2 段階認証の変更", "en": "a two-step verification change"},
    "new_tender": {"ja": "初めて使われたお支払い方法", "en": "a payment card never used before"},
    "gift_card_order": {"ja": "ギフトカードのご注文", "en": "a gift card order"},
    "top_up_order": {"ja": "残高チャージのご注文", "en": "a balance top-up order"},
}


def watch_session(
    db: DbSession,
    account: Account,
    session_id: str,
    *,
    new_device: bool,
    new_country: bool,
    country: str | None,
    now: datetime,
) -> WatchedSession | None:
    """Start watching a session whose sign-in was from a new device or country (else nothing)."""
    if not (new_device or new_country):
        return None
    watched = WatchedSession(
        session_id=session_id,
        account_id=account.id,
        new_device=new_device,
        new_country=new_country,
        country=country,
        contact_before=account.email,
        moves=[],
        created_at=now,
    )
    db.add(watched)
    return watched


def novelties_of(watched: WatchedSession) -> list[policy.Novelty]:
    return [
        novelty
        for novelty, seen in (
            (policy.Novelty.new_device, watched.new_device),
            (policy.Novelty.new_country, watched.new_country),
        )
        if seen
    ]


def note_moves(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    session_id: str | None,
    moves: Iterable[policy.Move],
    *,
    context: RequestContext,
    now: datetime,
) -> str | None:
    """Add the session's moves; act if the policy says so. The case id when it acted."""
    new_moves = list(moves)
    if session_id is None or not new_moves:
        return None
    watched = db.get(WatchedSession, session_id)
    if watched is None or watched.account_id != account.id:
        return None  # a session with nothing new about it is not judged here
    watched.moves = sorted({*watched.moves, *(move.value for move in new_moves)})
    verdict = policy.judge_session(
        novelties_of(watched), policy.moves_of(watched.moves), already_acted=watched.acted_at is not None
    )
    if not verdict.act or account.state in (AccountState.frozen, AccountState.closed):
        return None
    return _act(db, env, account, watched, verdict, context=context, now=now)


def note_change(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    kind: str,
    *,
    session_id: str | None,
    context: RequestContext,
    now: datetime,
) -> str | None:
    """An account change (``ChangeKind`` value) made from a session: a move if it is one."""
    move = policy.MOVE_OF_CHANGE.get(kind)
    if move is None:
        return None
    return note_moves(db, env, account, session_id, [move], context=context, now=now)


def reason_text(reasons: Iterable[str], language: str) -> str:
    """Why the account was frozen, in the customer's words."""
    language = language_of(language)
    words = [_WORDS[reason][language] for reason in reasons if reason in _WORDS]
    if language == "ja":
        return (
            "サインイン後のセッションで、第三者による不正アクセスの特徴（"
            + "、".join(words)
            + "）が見られたため、アカウントを保護しました。そのセッションからのご注文は保留または取り消します。"
        )
    return (
        "A session in your account showed the signs of an intruder ("
        + ", ".join(words)
        + "), so we protected your account. Orders from that session are held or cancelled."
    )


def _contact_moved_text(language: str) -> str:
    if language_of(language) == "ja":
        return (
            "このセッションでメールアドレスが変更されています。ご自身の変更でなければ、このアドレスにお送りした"
            "変更のお知らせの取り消しコードを入力してください。アドレスが戻り、パスワードを再設定できるようになります。"
        )
    return (
        "That session changed your e-mail address. If that was not you, enter the revert code from the change "
        "notice we sent to this address: the address comes back and you can then reset your password."
    )


def _act(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    watched: WatchedSession,
    verdict: policy.Verdict,
    *,
    context: RequestContext,
    now: datetime,
) -> str:
    contact_moved = account.email != watched.contact_before
    reason = reason_text(verdict.reasons, account.language.value)
    if contact_moved:
        reason += "\n" + _contact_moved_text(account.language.value)
    case_id = freeze_account(
        db,
        env,
        account,
        reason=reason,
        actor="system",
        context=context,
        now=now,
        window_from=watched.created_at,
        suspect_session_ids={watched.session_id},
        hold_reset=contact_moved,
        notify_to=watched.contact_before if contact_moved else None,
    )
    watched.acted_at = now
    watched.case_id = case_id
    record(
        db,
        account.id,
        "intrusion_detected",
        context,
        at=now,
        actor="system",
        reason=",".join(verdict.reasons),
        details={"case_id": case_id, "session_id": watched.session_id, "signals": list(verdict.reasons)},
    )
    logger.info(
        "intrusion detected", extra={"account_id": account.id, "session_id": watched.session_id, "case_id": case_id}
    )
    return case_id


# -- orders' signals -----------------------------------------------------------------------------


def handle_order_risk_signals(db: DbSession, envelope: EventEnvelope) -> None:
    """``order.risk_signals``: the moves an order showed, judged with the session's other moves."""
    try:
        event = contract.OrderRiskSignals.model_validate(envelope.payload)
    except ValueError as exc:
        raise Problem(
            422, "invalid_event_payload", "The order.risk_signals payload does not fit the contract."
        ) from exc
    account = db.get(Account, event.account_id)
    if account is None:
        logger.warning("risk signals for an unknown account", extra={"event_id": envelope.id})
        return
    env = env_of(db)
    note_moves(
        db,
        env,
        account,
        event.session_id,
        policy.moves_of(event.signals),
        context=SYSTEM,
        now=env.clock.now(),
    )
