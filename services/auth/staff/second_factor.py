"""Staff sign in with a second factor, every time; a staff account without one can only enrol.

A specialist reads customers' documents, an admin freezes and unlocks accounts: a password alone
(phished, reused, guessed) must not open that. So, for every staff role (``signin/policy.py``):

* every sign-in steps up, from every device, known or not (a remembered device never waives it);
* the step-up takes the staff member's passkey or TOTP (or a recovery code, TOTP's backup), never
  a mailed code: whoever holds the mailbox is not the second factor;
* a staff account with neither gets no session at all. The right password answers ``403
  second_factor_enrolment_required`` with an **enrolment token**, which opens only the two
  enrolment routes (``enrollStaffTotp``, ``confirmStaffTotp``) for ``email_code_seconds``; once
  TOTP is confirmed the token is spent and the staff member signs in again, password and TOTP.
  The token is stored as its SHA-256 only (a ``staff_enrolment`` challenge row).

``mamori staff create`` and the demo data enrol TOTP at once and print the secret, so a new staff
member adds it to an authenticator app and signs in; this path is for accounts made otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.orm import Session as DbSession

from mamori_common.problems import Problem
from services.auth.accounts.models import Account
from services.auth.audit.service import record
from services.auth.credentials.encryption import Encryptor
from services.auth.env import AuthEnv
from services.auth.request_context import RequestContext
from services.auth.signin.challenges import create_challenge
from services.auth.signin.models import Challenge, ChallengePurpose
from services.auth.totp import flows as totp_flows
from services.auth.totp import service as totp

#: The methods that prove a staff member's second factor.
STAFF_PROOFS = frozenset({"totp", "recovery_code", "passkey"})
ENROL_PATH = "/api/auth/staff/enrolment/totp"
CONFIRM_PATH = "/api/auth/staff/enrolment/totp/confirm"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def staff_factor_required() -> Problem:
    """A staff sign-in about to open without a passkey or TOTP proof: refused, never opened."""
    return Problem(401, "second_factor_required", "Staff sign in with their passkey or TOTP code.")


def enrolment_required(
    db: DbSession, env: AuthEnv, account: Account, context: RequestContext, *, now: datetime
) -> Problem:
    """The right password of a staff account with no second factor: a token for enrolment only."""
    challenge, _ = create_challenge(
        db,
        account.id,
        ChallengePurpose.staff_enrolment,
        ["totp"],
        hasher=env.code_hasher,
        settings=env.settings,
        now=now,
        context={"ip": context.ip},
        with_email_code=False,
    )
    secret = secrets.token_urlsafe(32)
    challenge.code_hash = _digest(secret)
    record(db, account.id, "staff_enrolment_required", context, at=now)
    return Problem(
        403,
        "second_factor_enrolment_required",
        "Staff accounts sign in with a second factor, and this one has none yet. Enrol TOTP with this "
        f"enrolment token (enrollStaffTotp, then confirmStaffTotp), then sign in again. It expires at "
        f"{challenge.expires_at.isoformat()} and opens nothing else.",
        enrolment_token=f"{challenge.id}.{secret}",
        expires_at=challenge.expires_at.isoformat(),
        enrol={"operation": "enrollStaffTotp", "path": ENROL_PATH},
        confirm={"operation": "confirmStaffTotp", "path": CONFIRM_PATH},
    )


def _enrolment(db: DbSession, token: str, *, now: datetime) -> tuple[Challenge, Account]:
    """The live enrolment the token opens, and its account; 401 for anything else."""
    refused = Problem(401, "enrolment_invalid", "This enrolment token is not valid any more. Sign in again.")
    challenge_id, _, secret = token.partition(".")
    challenge = db.get(Challenge, challenge_id) if challenge_id and secret else None
    if (
        challenge is None
        or challenge.purpose is not ChallengePurpose.staff_enrolment
        or challenge.consumed_at is not None
        or now >= challenge.expires_at
        or challenge.attempts >= challenge.max_attempts
        or not hmac.compare_digest(challenge.code_hash or "", _digest(secret))
    ):
        raise refused
    account = db.get(Account, challenge.account_id) if challenge.account_id else None
    if account is None or not account.is_staff:
        raise refused
    return challenge, account


def begin_totp(db: DbSession, env: AuthEnv, token: str, *, context: RequestContext) -> tuple[str, str]:
    """``enrollStaffTotp``: a pending TOTP secret and its otpauth URI. Caller commits."""
    _, account = _enrolment(db, token, now=env.clock.now())
    return totp_flows.enroll(db, env, account, context=context)


def confirm_totp(db: DbSession, env: AuthEnv, token: str, code: str, *, context: RequestContext) -> list[str]:
    """``confirmStaffTotp``: TOTP on with a code of the pending secret; the recovery codes. The
    token is spent; a wrong code counts against it (and the account's TOTP quota). Caller commits."""
    now = env.clock.now()
    challenge, account = _enrolment(db, token, now=now)
    if account.totp_secret_encrypted is None:
        raise Problem(409, "totp_not_enrolled", "Start with enrollStaffTotp: there is no secret to confirm.")
    challenge.attempts += 1
    step = totp.matching_step(env.encryptor.decrypt(account.totp_secret_encrypted), code, now=now)
    if step is None or not totp.record_step(db, account, step):
        db.commit()  # the try counts
        raise Problem(
            403, "invalid_code", "This code is not valid. Enter the current code from your authenticator app."
        )
    account.totp_enabled_at = now
    challenge.consumed_at = now
    codes = totp.replace_recovery_codes(db, account, count=env.settings.recovery_code_count, now=now)
    record(db, account.id, "totp_enabled", context, at=now, details={"via": "staff_enrolment"})
    return codes


def enrol_totp_at_creation(account: Account, encryptor: Encryptor, *, now: datetime, secret: str | None = None) -> str:
    """TOTP on from the start (``mamori staff create``, the demo staff): the secret to add to an
    authenticator app, shown once by the command. The caller commits."""
    secret = secret or totp.new_secret()
    account.totp_secret_encrypted = encryptor.encrypt(secret)
    account.totp_enabled_at = now
    account.totp_last_step = None
    return secret
