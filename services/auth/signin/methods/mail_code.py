"""The mailed sign-in code: the one step-up an account without a second factor owes on a risky
sign-in. It proves the mailbox only, which an intruder may hold, so the rules never take it in
place of an enrolled factor (:func:`~services.auth.signin.policy.methods_owed`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited, wait_in_words
from services.auth import quotas
from services.auth.accounts.models import Account
from services.auth.env import AuthEnv
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.signin.challenges import check_code, issue_code
from services.auth.signin.methods import Ask, Offer, Verdict, register
from services.auth.signin.models import Challenge


class MailedCode:
    """A six-digit code mailed for this challenge: ten minutes, five tries, once."""

    name = "email_code"
    asks = "enter the 6-digit code we sent to your e-mail address"
    wrong = "This code is wrong."

    def enrolled(self, db: DbSession, account: Account) -> bool:
        return True  # every account has its address

    def offer(self, db: DbSession, env: AuthEnv, ask: Ask) -> Offer:
        """A code is mailed only where the account owes one and the password was right (the guard's
        challenge of a wrong password lists the method and mails nothing); each mail is counted."""
        account = ask.account
        if account is None or not ask.owed or not ask.password_ok:
            return Offer()
        wait = quotas.spend_code_mail(
            env.quotas, env.settings, "login", account.id, ask.context, known_client=ask.known_client
        )
        if wait:  # no more code mails for now; other methods the challenge lists need none
            return Offer(refusal=code_mails_spent(wait, env.settings.email_code_seconds))

        def deliver(challenge: Challenge) -> None:
            code = issue_code(challenge, env.code_hasher)
            minutes = env.settings.email_code_seconds // 60
            data = {"code": code, "minutes": minutes}
            file_message(db, account, "login_code", data, encryptor=env.encryptor, now=ask.now)

        return Offer(deliver=deliver)

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
        return Verdict(check_code(challenge, code, hasher=env.code_hasher, now=now))


def code_mails_spent(wait: int, code_seconds: int) -> Problem:
    """Only a mailed code would do, and this account got its share of them for now: say until when."""
    return rate_limited(
        wait,
        f"We mailed sign-in codes to this address several times in the last hour. The codes already mailed "
        f"still work for {code_seconds // 60} minutes each; a new one can be mailed in {wait_in_words(wait)}. A password reset "
        "(requestPasswordReset) also proves the mailbox and lets you sign in from this device.",
    )


METHOD = register(MailedCode())
