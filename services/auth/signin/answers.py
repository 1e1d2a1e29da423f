"""The problems the sign-in routes answer with, shared by the password, step-up, unlock and
passkey flows (so none of them imports another to say the same thing)."""

from __future__ import annotations

from typing import Any

from mamori_common.contract import case_number
from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.signin import methods
from services.auth.signin.models import Challenge


def invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "The e-mail address or the password is wrong.")


def account_locked(account: Account) -> Problem:
    until = account.locked_until.isoformat() if account.locked_until else None
    case_id = account.lock_case_id
    number = case_number(case_id) if case_id else None
    return Problem(
        423,
        "account_locked",
        f"This account is locked until {until} after repeated failed checks (case {number}). You can unlock it "
        "now: ask for a code (sendUnlockCode), then send the code with a new password (requestUnlock).",
        case_id=case_id,
        case_number=number,
        locked_until=until,
        unlock={
            "operation": "requestUnlock",
            "path": "/api/auth/unlock",
            "needs": ["the code we mail to your address", "a new password"],
            "send_code_operation": "sendUnlockCode",
            "send_code_path": "/api/auth/unlock/code",
            "or_wait_until": until,
        },
    )


def account_closed(account: Account) -> Problem:
    return Problem(403, "account_closed", "This account is closed.", case_id=account.state_case_id)


def challenge_required(challenge: Challenge, *, shown: dict[str, Any] | None = None) -> Problem:
    """The step-up still owed: which methods answer it (each asked for as it says,
    :mod:`.methods`), until when, how to send the answer, and what the methods offered
    (``shown``: a passkey's request options)."""
    registered = methods.registered()
    ways = [registered[name].asks for name in challenge.methods if name in registered]
    how = ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + ", or " + ways[-1]
    return Problem(
        401,
        "challenge_required",
        f"One more check to sign in: {how[0].upper()}{how[1:]}.",
        challenge_id=challenge.id,
        methods=list(challenge.methods),
        expires_at=challenge.expires_at.isoformat(),
        operation="completeChallenge",
        **(shown or {}),
    )


def wrong_code(challenge: Challenge, method: str = "email_code") -> Problem:
    attempts_left = max(0, challenge.max_attempts - challenge.attempts)
    wrong = methods.named(method).wrong
    detail = wrong if attempts_left else f"{wrong[:-1]}, and that was the last try: sign in again."
    return Problem(401, "invalid_code", detail, attempts_left=attempts_left)


def passkey_cloned() -> Problem:
    return Problem(
        401,
        "passkey_cloned",
        "This passkey was refused: its signature counter went backwards, which is what a copied authenticator "
        "does. Sign in another way and check your passkeys and security events.",
    )
