"""TOTP as a sign-in step-up: the code of the authenticator app the account enrolled (each time
step accepted once, :mod:`services.auth.totp.service`)."""

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


class Totp:
    name = "totp"
    asks = "enter the code from your authenticator app"
    wrong = "This code is wrong."

    def enrolled(self, db: DbSession, account: Account) -> bool:
        return account.totp_enabled

    def offer(self, db: DbSession, env: AuthEnv, ask: Ask) -> Offer:
        return Offer()  # the app computes the code: nothing to send or keep

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
        passed = totp.check_totp(db, account, code.strip(), encryptor=env.encryptor, now=now)
        return Verdict(count_try(challenge, passed, now=now))


METHOD = register(Totp())
