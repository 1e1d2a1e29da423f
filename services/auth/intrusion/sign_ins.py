"""The new-sign-in notice, with a "this was not me" code (story S2).

A sign-in from a new device or country is recorded as an account change of kind ``sign_in`` and
notified like every change (``changes.flows.notify_change``): the account's address gets the notice
with a revert code, usable without signing in (``revertChange``). Saying "not me" with it undoes
every change made since that sign-in (an intruder's new address, password, passkeys), freezes the
account, revokes every session and tells orders to undo that session's orders: the S2 clean-up,
open to an owner whose password the intruder already changed. The session is also watched for an
intruder's moves (``watch.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from services.auth.accounts.models import Account
from services.auth.changes.flows import notify_change
from services.auth.changes.models import ChangeKind
from services.auth.env import AuthEnv
from services.auth.intrusion.watch import watch_session
from services.auth.request_context import RequestContext


def notify_new_sign_in(
    db: DbSession,
    env: AuthEnv,
    account: Account,
    context: RequestContext,
    *,
    new_device: bool,
    new_country: bool,
    session_id: str,
    now: datetime,
) -> None:
    """Watch the session and mail the notice with its "not me" code. Caller commits."""
    watch_session(
        db,
        account,
        session_id,
        new_device=new_device,
        new_country=new_country,
        country=context.country,
        now=now,
    )
    notify_change(
        db,
        env,
        account,
        ChangeKind.sign_in,
        old_value={},
        new_value={"session_id": session_id, "new_device": new_device, "new_country": new_country},
        context=context,
        session_id=session_id,
        now=now,
        template="new_sign_in",
        template_data={"country": context.country or "-"},
    )
