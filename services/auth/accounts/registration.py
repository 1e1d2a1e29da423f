"""``register``: a new account, answered alike whether or not the address already has one.

A "409 this address exists" told anyone, at any rate, which addresses are customers here: the
first step of credential stuffing and of targeted phishing. So:

* **One answer.** A taken address gets the same ``201`` with the same body as a new one (a fresh
  account id, as random as a real one, which opens nothing), after the same Argon2 hash, so
  neither the answer nor its time tells them apart. Bad input (a weak password) is refused the
  same way for both, before anything else.
* **The owner hears of it.** The existing account's owner is mailed "someone tried to register
  with your address" (with what to do if it was them: sign in, or reset the password), at most
  ``registration_notices_per_account`` times a day; the account itself is not touched.
* **A quota per client.** ``registrations_per_ip`` calls per address per window, then ``429
  rate_limited`` with Retry-After whatever the address typed, so the answer cannot be farmed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from mamori_common.card_numbers import ensure_no_card_numbers
from mamori_common.quotas import rate_limited
from services.auth import quotas
from services.auth.accounts.models import Account, Language, new_id
from services.auth.accounts.service import check_new_password, create_account, normalise_email
from services.auth.env import AuthEnv
from services.auth.messages.service import file_message
from services.auth.request_context import RequestContext


def register(
    db: DbSession, env: AuthEnv, *, email: str, password: str, name: str, language: Language, context: RequestContext
) -> str:
    """The new account's id, or for a taken address an id that names no account (the owner is
    mailed instead). 422 ``weak_password`` and 429 ``rate_limited`` alike for both."""
    wait = env.quotas.spend(quotas.registrations(env.settings), context.ip)
    if wait:
        raise rate_limited(wait)
    email = normalise_email(email)
    ensure_no_card_numbers({"name": name, "email": email})
    check_new_password(password, email=email, name=name)
    password_hash = env.passwords.hash(password)  # also for a taken address: the same time
    existing = _account_with(db, email)
    if existing is None:
        try:
            account = create_account(
                db,
                env.passwords,
                email=email,
                password=password,
                name=name,
                language=language,
                password_hash=password_hash,
            )
            db.commit()
            return account.id
        except IntegrityError:  # registered meanwhile by a concurrent request
            db.rollback()
            existing = _account_with(db, email)
            if existing is None:
                raise
    _tell_the_owner(db, env, existing)
    db.commit()
    return new_id()


def _account_with(db: DbSession, email: str) -> Account | None:
    return db.execute(select(Account).where(Account.email == email)).scalar_one_or_none()


def _tell_the_owner(db: DbSession, env: AuthEnv, account: Account) -> None:
    if env.quotas.spend(quotas.registration_notices(env.settings), account.id):
        return  # told enough for today: the answer stays the same
    now = env.clock.now()
    file_message(db, account, "registration_attempt", {"at": now}, encryptor=env.encryptor, now=now)
