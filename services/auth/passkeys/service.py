"""Plain data functions of the passkeys domain: an account's passkeys and the ceremonies.

A ceremony is spent with a conditional UPDATE (never a read-then-write), so two answers to one
challenge sent at once cannot both be checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session as DbSession
from webauthn.helpers import bytes_to_base64url

from services.auth.config import AuthSettings
from services.auth.passkeys import policy
from services.auth.passkeys.models import CeremonyPurpose, Passkey, PasskeyCeremony

#: How long an expired ceremony is kept before it is deleted (a late answer is refused the same
#: way whether its row is still there or not).
KEEP_EXPIRED = timedelta(hours=1)


def active_passkeys(db: DbSession, account_id: str) -> list[Passkey]:
    """The account's passkeys that were not removed, newest first."""
    query = (
        select(Passkey)
        .where(Passkey.account_id == account_id, Passkey.removed_at.is_(None))
        .order_by(Passkey.created_at.desc(), Passkey.id.desc())
    )
    return list(db.execute(query).scalars())


def count_active(db: DbSession, account_id: str) -> int:
    query = (
        select(func.count()).select_from(Passkey).where(Passkey.account_id == account_id, Passkey.removed_at.is_(None))
    )
    return int(db.execute(query).scalar_one())


def by_credential_id(db: DbSession, credential_id: str) -> Passkey | None:
    """The passkey with this credential id (base64url), removed or not."""
    return db.execute(select(Passkey).where(Passkey.credential_id == credential_id)).scalar_one_or_none()


def own_passkey(db: DbSession, account_id: str, passkey_id: str) -> Passkey | None:
    """One of the account's live passkeys; None for an unknown, removed or another account's one."""
    passkey = db.get(Passkey, passkey_id)
    if passkey is None or passkey.account_id != account_id or passkey.removed_at is not None:
        return None
    return passkey


def open_ceremony(
    db: DbSession,
    purpose: CeremonyPurpose,
    *,
    account_id: str | None,
    session_id: str | None,
    now: datetime,
    settings: AuthSettings,
) -> tuple[PasskeyCeremony, bytes]:
    """A new ceremony with a fresh challenge; return it and the challenge's bytes. Caller commits.

    Ceremonies that expired more than :data:`KEEP_EXPIRED` ago go first (an indexed range, so
    each call removes only the few that expired since the last), so the table stays small.
    """
    db.execute(delete(PasskeyCeremony).where(PasskeyCeremony.expires_at < now - KEEP_EXPIRED))
    challenge = policy.new_challenge()
    ceremony = PasskeyCeremony(
        account_id=account_id,
        session_id=session_id,
        purpose=purpose,
        challenge=bytes_to_base64url(challenge),
        created_at=now,
        expires_at=policy.ceremony_deadline(now, settings),
    )
    db.add(ceremony)
    db.flush()
    return ceremony, challenge


def claim_ceremony(
    db: DbSession, ceremony_id: str, purpose: CeremonyPurpose, *, account_id: str | None, now: datetime
) -> PasskeyCeremony | None:
    """Spend the ceremony if it is this purpose's, this account's (None: a sign-in's), unused and
    unexpired; None otherwise (unknown, another's, used, expired: one answer for all)."""
    result = db.execute(
        update(PasskeyCeremony)
        .where(
            PasskeyCeremony.id == ceremony_id,
            PasskeyCeremony.purpose == purpose,
            PasskeyCeremony.account_id.is_(None) if account_id is None else PasskeyCeremony.account_id == account_id,
            PasskeyCeremony.consumed_at.is_(None),
            PasskeyCeremony.expires_at > now,
        )
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.get(PasskeyCeremony, ceremony_id, populate_existing=True)


def has_opened(db: DbSession, ceremony_id: str, purpose: CeremonyPurpose, account_id: str) -> bool:
    """Whether this account ever opened this ceremony (spent or not)."""
    found = db.scalar(
        select(PasskeyCeremony.id).where(
            PasskeyCeremony.id == ceremony_id,
            PasskeyCeremony.purpose == purpose,
            PasskeyCeremony.account_id == account_id,
        )
    )
    return found is not None


def remove(passkey: Passkey, *, now: datetime) -> None:
    passkey.removed_at = now


def remove_added_since(db: DbSession, account_id: str, since: datetime, *, now: datetime) -> list[Passkey]:
    """Soft-delete every live passkey added at or after ``since`` (a revert: the intruder's)."""
    added = list(
        db.execute(
            select(Passkey).where(
                Passkey.account_id == account_id, Passkey.removed_at.is_(None), Passkey.created_at >= since
            )
        ).scalars()
    )
    for passkey in added:
        passkey.removed_at = now
    return added


def restore_removed(db: DbSession, account_id: str, passkey_ids: list[str], *, before: datetime) -> list[Passkey]:
    """Bring back removed passkeys of the account that were added before ``before`` (the owner's)."""
    if not passkey_ids:
        return []
    restored = list(
        db.execute(
            select(Passkey).where(
                Passkey.account_id == account_id,
                Passkey.id.in_(passkey_ids),
                Passkey.removed_at.is_not(None),
                Passkey.created_at < before,
            )
        ).scalars()
    )
    for passkey in restored:
        passkey.removed_at = None
    return restored
