"""A recovery code as a sign-in step-up: the backup of TOTP and of a passkey, each code once, so a
lost phone or passkey never locks the owner out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from services.auth.accounts.models import Account
from services.auth.env import AuthEnv
from services.auth.request_context import RequestContext
from services.auth.signin.methods import Ask, Offer, Verdict, count_try, register
from services.auth.signin.models import Challenge
from services.auth.totp import service as totp


class RecoveryCode:
    name = "recovery_code"
    asks = "enter one of your recovery codes"
    wrong = "This code is wrong."

    def enrolled(self, db: DbSession, account: Account) -> bool:
        """Unused codes are left (the rules read this only where it decides a method)."""
        return totp.unused_recovery_codes(db, account) > 0

    def offer(self, db: DbSession, env: AuthEnv, ask: Ask) -> Offer:
        return Offer()  # the codes were shown once, when issued

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
        passed = totp.use_recovery_code(db, account, code.strip(), now=now)
        return Verdict(count_try(challenge, passed, now=now))


METHOD = register(RecoveryCode())
