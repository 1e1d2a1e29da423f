"""Challenges answered with a mailed code (step-up, unlock, new e-mail confirmation).

A code lives ten minutes, is single use, and allows five tries; the rules are the same whatever
the challenge is for, so they live here once.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session as DbSession

from services.auth.config import AuthSettings
from services.auth.credentials.codes import CodeHasher, new_numeric_code
from services.auth.signin.models import Challenge, ChallengePurpose


class CodeCheck(str, enum.Enum):
    accepted = "accepted"
    wrong = "wrong"
    expired = "expired"
    used = "used"
    exhausted = "exhausted"


def create_challenge(
    db: DbSession,
    account_id: str | None,
    purpose: ChallengePurpose,
    methods: list[str],
    *,
    hasher: CodeHasher,
    settings: AuthSettings,
    now: datetime,
    context: dict[str, Any] | None = None,
    with_email_code: bool = True,
) -> tuple[Challenge, str | None]:
    """Create a challenge; return it and the clear code to mail (None when no code is mailed).

    ``account_id`` None makes a decoy (see :func:`services.auth.signin.decoy.open_decoy`)."""
    challenge = Challenge(
        account_id=account_id,
        purpose=purpose,
        methods=methods,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.email_code_seconds),
        attempts=0,
        max_attempts=settings.email_code_max_attempts,
        context=context or {},
    )
    db.add(challenge)
    db.flush()
    return challenge, issue_code(challenge, hasher) if with_email_code else None


def issue_code(challenge: Challenge, hasher: CodeHasher) -> str:
    """A new code for a stored challenge (only its digest, bound to the challenge id, is kept)."""
    code = new_numeric_code()
    challenge.code_hash = hasher.digest(challenge.id, code)
    return code


def check_code(challenge: Challenge, code: str, *, hasher: CodeHasher, now: datetime) -> CodeCheck:
    """Count a try and say whether ``code`` answers the challenge; the caller commits either way."""
    if challenge.consumed_at is not None:
        return CodeCheck.used
    if now >= challenge.expires_at:
        return CodeCheck.expired
    if challenge.attempts >= challenge.max_attempts:
        return CodeCheck.exhausted
    challenge.attempts += 1
    if hasher.matches(challenge.id, code.strip(), challenge.code_hash):
        challenge.consumed_at = now
        return CodeCheck.accepted
    return CodeCheck.exhausted if challenge.attempts >= challenge.max_attempts else CodeCheck.wrong
