"""Self-service unlock: ``sendUnlockCode`` mails a locked account's owner a code, and
``requestUnlock`` takes it with a new password and opens the account at once.

A lock never keeps the owner out for long (:mod:`.policy`), and never at all for an owner who
reads the mailbox; the client that unlocked then answers the step-up its factors owe, as a
password sign-in would (:func:`.factors.admit`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from mamori_common.quotas import rate_limited, wait_in_words
from services.auth import quotas
from services.auth.accounts import standing
from services.auth.accounts.models import AccountState
from services.auth.accounts.service import check_new_password, find_by_email, normalise_email
from services.auth.accounts.standing import standing_of
from services.auth.audit.service import record
from services.auth.events import ACCOUNT_UNLOCKED
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext
from services.auth.sessions.service import TokenPair, revoke_sessions
from services.auth.signin import factors, risk, service
from services.auth.signin.challenges import create_challenge
from services.auth.signin.factors import SignInEnv
from services.auth.signin.models import ChallengePurpose, SignInOutcome
from services.auth.signin.policy import Proof, StepUpReason
from services.auth.signin.throttle import account_key


def send_unlock_code(db: DbSession, env: SignInEnv, *, email: str, context: RequestContext) -> None:
    """``sendUnlockCode``: mail a code to a locked account's owner; silent for anything else.

    The code mails are counted under the address's digest, for every address alike (registered,
    locked or not), so when none will be sent the answer says so, until when, for every address
    alike: a 429 never tells a locked account from an unknown address.
    """
    now = env.clock.now()
    wait = env.quotas.spend(quotas.unlock_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    email = normalise_email(email)
    account = find_by_email(db, email)
    known_client = risk.assess(db, account.id, context).known_client if account else False
    wait = quotas.spend_code_mail(
        env.quotas, env.settings, "unlock", account_key(email), context, known_client=known_client
    )
    if wait:
        raise unlock_codes_spent(wait, env.settings.email_code_seconds)
    if account is None or standing_of(account, (), now=now).state is not AccountState.locked:
        return
    _, code = create_challenge(
        db,
        account.id,
        ChallengePurpose.unlock,
        ["email_code"],
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={"ip": context.ip, "country": context.country, "device_id": context.device_id},
    )
    assert code is not None
    file_message(
        db,
        account,
        "unlock_code",
        {"code": code, "minutes": env.settings.email_code_seconds // 60},
        encryptor=env.encryptor,
        now=now,
    )
    db.commit()


def unlock_codes_spent(wait: int, code_seconds: int) -> Problem:
    """No new unlock code will be mailed for a while: say so, what still works, and until when.
    ``reason: no_new_code`` tells this from a plain throttle of the client (same ``rate_limited``),
    so a page does not say "too many attempts from this connection"; ``code_minutes`` is how long a
    code already mailed still works."""
    return rate_limited(
        wait,
        f"No new code will be mailed for now: codes were asked for this address several times in the last hour. "
        f"A code already mailed still works for {code_seconds // 60} minutes after it was sent; a new one can be "
        f"asked in {wait_in_words(wait)}. A locked account also opens by itself when its lock ends.",
        reason="no_new_code",
        code_minutes=code_seconds // 60,
    )


def request_unlock(
    db: DbSession, env: SignInEnv, *, email: str, code: str, new_password: str, context: RequestContext
) -> tuple[TokenPair, int]:
    """``requestUnlock``: a mailed unlock code and a new password open the account at once.

    Any unlock code mailed in the last minutes works (so a flood of requests cannot void the
    owner's). The new password ends every session; this client gets a fresh one through the door
    (:func:`factors.admit`): an account with TOTP or a passkey is unlocked, and this client gets
    the step-up its factors owe (401 ``challenge_required``), as a password sign-in would.
    """
    now = env.clock.now()
    throttle = env.throttle
    wait = throttle.client_wait(context.ip) or env.quotas.spend(quotas.unlock_requests(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    email = normalise_email(email)
    key = account_key(email)
    account = find_by_email(db, email)
    challenges = service.live_unlock_challenges(db, account.id, now=now) if account else []
    entered = code.strip()
    match = next((item for item in challenges if env.code_hasher.matches(item.id, entered, item.code_hash)), None)
    if account is None or match is None:
        for item in challenges:
            item.attempts += 1
        throttle.record_failure(context.ip, key, foreign=True)
        db.commit()
        raise Problem(401, "invalid_code", "This code is wrong or no longer valid. Ask for a new one.")
    check_new_password(new_password, email=account.email, name=account.name)  # 422; the code stays usable

    match.consumed_at = now
    match.attempts += 1
    current = standing_of(account, (), now=now)
    if current.state in (AccountState.frozen, AccountState.closed):  # frozen or closed since the code was mailed
        db.commit()
        raise Problem(401, "invalid_code", "This code is wrong or no longer valid. Ask for a new one.")
    account.password_hash = env.passwords.hash(new_password)
    account.password_changed_at = now
    # The lock ends (in force, or run out meanwhile): either way verification closes its case.
    case_id = standing.unlock(account)
    revoked = revoke_sessions(db, account.id, now=now, reason="unlocked")
    if case_id:
        env.outbox.publish(db, ACCOUNT_UNLOCKED, {"case_id": case_id, "account_id": account.id, "how": "self_service"})
    record(
        db,
        account.id,
        service.ACCOUNT_UNLOCKED,
        context,
        at=now,
        reason="Unlocked with a mailed code and a new password.",
        details={"case_id": case_id, "revoked_sessions": len(revoked)},
    )
    signals = risk.assess(db, account.id, context)
    # The mailbox and the new password are all this client proved: the door asks for the enrolled
    # factors (TOTP, passkey) in the normal step-up, after failed step-ups, from every device.
    reasons: tuple[StepUpReason, ...] = (StepUpReason.after_failed_step_ups,)
    if account.passkey_required:
        reasons += (StepUpReason.passkey_required,)
    passed = factors.admit(
        db,
        env,
        account,
        context,
        signals,
        {Proof.mailbox, Proof.password},
        reasons=reasons,
        now=now,
        outcome=SignInOutcome.challenge_passed,
        notes={"via": "unlock"},
    )
    if isinstance(passed, Problem):
        service.record_attempt(
            db,
            account.id,
            SignInOutcome.challenged,
            context,
            now=now,
            signals={"via": "unlock", "reasons": [reason.value for reason in reasons]},
        )
        db.commit()
        raise passed
    db.commit()
    return passed, len(revoked)
