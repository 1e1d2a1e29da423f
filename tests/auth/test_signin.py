"""Story S1 through the HTTP API: guessing is throttled, the owner steps up and gets in, locks come
only from failed step-ups, are short, and the owner can always lift them by self-service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from mamori_common.contract import case_number
from mamori_common.observability import request_id_var
from services.auth.accounts.models import Account, AccountState
from services.auth.accounts.service import add_restriction
from services.auth.accounts.standing import standing_of
from services.auth.database import outbox as outbox_table
from services.auth.messages.models import Message
from services.auth.signin.models import SignInAttempt
from tests.auth.conftest import AuthHarness
from tests.auth.messaging_support import deliver_event
from tests.support.auth_signin import (  # noqa: F401  (helpers shared with other test modules)
    _FRESH_ADDRESSES,
    ATTACKER,
    COMPLETE,
    EMAIL,
    HOME,
    LAPTOP,
    LOGIN,
    SEND_UNLOCK,
    UNLOCK,
    account_row,
    complete,
    count_hashes,
    harness,
    lock_out,
    login,
    mails_to,
    owner_signs_in_at_home,
    wait_for_code,
)

# -- S1: throttling and step-up ------------------------------------------------------------------


def test_twenty_wrong_passwords_from_one_client_are_throttled_and_cost_no_hash(
    auth: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_signs_in_at_home(auth)
    hashes = count_hashes(auth, monkeypatch)

    answers = [login(auth, f"guess-number-{n}", ip=ATTACKER, device=None) for n in range(20)]

    statuses = Counter(answer.status_code for answer in answers)
    free = auth.settings.throttle_client_free_failures
    assert statuses[401] == free + 1  # the free failures, and the one that starts the delay
    assert statuses[429] == 20 - (free + 1)
    assert len(hashes) == statuses[401]  # a throttled attempt never reaches Argon2
    throttled = [answer for answer in answers if answer.status_code == 429]
    for answer in throttled:
        assert answer.json()["code"] == "rate_limited"
        assert int(answer.headers["retry-after"]) == answer.json()["retry_after"] >= 1


def test_a_throttled_client_may_try_again_once_the_app_clock_passes_its_retry_after(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    for n in range(auth.settings.throttle_client_free_failures + 1):
        login(auth, f"guess-number-{n}", ip=ATTACKER, device=None)
    refused = login(auth, "guess-number-x", ip=ATTACKER, device=None)
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])

    auth.clock.advance(seconds=wait - 1)
    assert login(auth, "guess-number-y", ip=ATTACKER, device=None).status_code == 429
    auth.clock.advance(seconds=1.01)
    assert login(auth, "guess-number-z", ip=ATTACKER, device=None).status_code == 401


def test_a_throttled_address_is_turned_away_before_validation_or_the_database(
    auth: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_signs_in_at_home(auth)
    for n in range(auth.settings.throttle_client_free_failures + 1):
        login(auth, f"guess-number-{n}", ip=ATTACKER, device=None)
    opened: list[int] = []
    real_session = auth.app.state.db.session

    def counted_session() -> DbSession:
        if request_id_var.get() != "-":  # a request's, not a background job's (the outbox, the watch)
            opened.append(1)
        return real_session()

    monkeypatch.setattr(auth.app.state.db, "session", counted_session)

    garbled = auth.call("POST", LOGIN, ip=ATTACKER, json={"email": 5, "password": None})
    answers = [
        garbled,
        login(auth, "another-guess", ip=ATTACKER, device=None),
        complete(auth, "no-such-challenge", "123456", ip=ATTACKER, device=None),
    ]

    assert [(answer.status_code, answer.json()["code"]) for answer in answers] == [(429, "rate_limited")] * 3
    assert all(answer.headers["x-request-id"] for answer in answers)
    assert opened == []  # not one database session
    login(auth, "a-guess-from-home", ip=HOME, device=None)
    assert opened  # a request that goes on does open one: the count above could have failed
    # Another address, and a login naming a device (which the route may let past), go on as before.
    assert auth.call("POST", LOGIN, ip=HOME, json={"email": 5, "password": None}).status_code == 422
    owner = login(auth, ip=ATTACKER, device=LAPTOP)  # the account is under attack: a step-up, not a wait
    assert (owner.status_code, owner.json()["code"]) == (401, "challenge_required")


def test_the_owner_from_another_client_steps_up_with_a_mailed_code_and_gets_in(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    for n in range(20):
        login(auth, f"guess-number-{n}", ip=ATTACKER, device=None)

    challenged = login(auth, ip="192.0.2.77", device="hana-phone-0001")

    assert challenged.status_code == 401
    body = challenged.json()
    assert body["code"] == "challenge_required" and body["methods"] == ["email_code"]
    code = wait_for_code(auth, "sign-in code", 1)
    signed_in = complete(auth, body["challenge_id"], code, ip="192.0.2.77", device="hana-phone-0001")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["token_type"] == "Bearer"
    me = auth.call("GET", "/api/auth/me", token=signed_in.json()["access_token"])
    assert me.status_code == 200 and me.json()["email"] == EMAIL
    # The phone passed the check: it is a known device now, and the attack is forgotten.
    assert login(auth, ip="192.0.2.77", device="hana-phone-0001").status_code == 200


def test_the_owner_on_a_known_device_steps_up_while_the_account_is_under_attack(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    for n in range(auth.settings.step_up_after_account_failures):
        assert login(auth, f"guess-number-{n}", ip=f"198.51.100.{n + 1}", device=None).status_code == 401

    challenged = login(auth)  # home, the laptop the account knows

    assert challenged.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)
    assert complete(auth, challenged.json()["challenge_id"], code).status_code == 200


def test_the_owners_own_typos_on_a_known_device_ask_for_no_step_up(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    for n in range(3):
        assert login(auth, f"typo-number-{n}").status_code == 401
    assert login(auth).status_code == 200


def test_a_new_device_needs_a_step_up_and_the_first_sign_in_does_not(auth: AuthHarness) -> None:
    auth.register(EMAIL)
    assert login(auth, device="first-device-01").status_code == 200  # no history yet: nothing is "new"

    challenged = login(auth, device="second-device-01")

    assert challenged.json()["code"] == "challenge_required"
    assert wait_for_code(auth, "sign-in code", 1)


def test_a_new_country_needs_a_step_up_and_the_owner_is_told(auth: AuthHarness) -> None:
    auth.register(EMAIL)
    assert login(auth, ip="133.242.0.1", device=None).status_code == 200  # Japan

    challenged = login(auth, ip="8.8.8.8", device=None)  # the United States

    assert challenged.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)
    assert complete(auth, challenged.json()["challenge_id"], code, ip="8.8.8.8", device=None).status_code == 200
    notice = auth.wait_for_mail(EMAIL, 2)
    assert "somewhere new" in notice.subject and "US" in notice.body
    with auth.app.state.db.session() as db:
        rows = db.execute(select(SignInAttempt).order_by(SignInAttempt.id)).scalars().all()
    challenged_row = rows[1]
    assert (challenged_row.ip, challenged_row.country, challenged_row.outcome.value) == ("8.8.8.8", "US", "challenged")
    # No device token, from an address the account never used, while it knows a device: a new device too.
    assert challenged_row.signals["new_country"] is True and challenged_row.signals["new_device"] is True


def test_every_attempt_is_recorded_with_its_risk_signals(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    login(auth, "not-the-password", ip=ATTACKER, device="thief-phone-0001")
    login(auth, email="nobody@example.com", ip=ATTACKER, device=None)

    with auth.app.state.db.session() as db:
        rows = db.execute(select(SignInAttempt).order_by(SignInAttempt.id)).scalars().all()
    assert [row.outcome.value for row in rows] == ["success", "bad_credentials", "bad_credentials"]
    assert rows[1].account_id is not None and rows[2].account_id is None
    # A made-up device value names no device: the row keeps no client-chosen id.
    assert rows[1].device_id is None and rows[1].ip == ATTACKER
    assert rows[0].device_id is not None  # the owner's laptop, by the handle auth issued it
    assert rows[1].user_agent  # the test client's
    assert rows[1].signals["new_device"] is True and rows[1].signals["known_client"] is False


# -- challenges ----------------------------------------------------------------------------------


def test_a_challenge_refuses_wrong_used_expired_and_exhausted_answers(auth: AuthHarness) -> None:
    auth.register(EMAIL)
    login(auth)
    first = login(auth, device="other-device-01").json()
    code = wait_for_code(auth, "sign-in code", 1)

    wrong = complete(auth, first["challenge_id"], "000000" if code != "000000" else "111111")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_code" and wrong.json()["attempts_left"] == 4
    assert complete(auth, first["challenge_id"], code, method="totp").json()["code"] == "method_not_offered"
    assert complete(auth, first["challenge_id"], code).status_code == 200
    assert complete(auth, first["challenge_id"], code).json()["code"] == "challenge_used"

    second = login(auth, device="other-device-02").json()
    auth.clock.advance(seconds=auth.settings.email_code_seconds + 1)
    assert complete(auth, second["challenge_id"], "123456").json()["code"] == "challenge_expired"

    third = login(auth, device="other-device-03").json()
    code = wait_for_code(auth, "sign-in code", 3)
    for n in range(auth.settings.email_code_max_attempts):  # from several addresses: no delays
        complete(auth, third["challenge_id"], "000000" if code != "000000" else "111111", ip=f"192.0.2.{50 + n}")
    assert complete(auth, third["challenge_id"], code, ip="192.0.2.60").json()["code"] == "challenge_exhausted"
    assert complete(auth, "f" * 32, "123456").json()["code"] == "challenge_expired"


# -- locks ---------------------------------------------------------------------------------------


def test_failed_step_ups_lock_the_account_and_the_423_names_the_case_in_the_outbox(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)

    locked = lock_out(auth)

    assert locked["code"] == "account_locked" and locked["case_id"]
    case_id = locked["case_id"]
    right = login(auth, ip=ATTACKER, device="thief-phone-0001")
    assert right.status_code == 423
    assert right.json()["case_id"] == case_id and right.json()["unlock"]["operation"] == "requestUnlock"
    until = auth.clock.now() + timedelta(seconds=auth.settings.lock_max_seconds)
    assert right.json()["locked_until"] <= until.isoformat()
    # A wrong password on a locked account learns nothing: the same 401 as any other.
    wrong = login(auth, "not-the-password", ip="198.51.100.99", device=None)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"

    with auth.app.state.db.session() as db:
        events = db.execute(select(outbox_table).where(outbox_table.c.event_type == "account.locked")).all()
    assert [(event.subscriber, event.payload["case_id"], event.payload["kind"]) for event in events] == [
        ("verification", case_id, "lockout")
    ]
    assert events[0].payload["account_id"] == account_row(auth).id
    assert locked["case_number"] == case_number(case_id) and case_number(case_id) in locked["detail"]
    notice = [mail for mail in auth.mails(EMAIL) if case_number(case_id) in mail.body]
    assert notice and "locked" in notice[0].subject and case_id not in notice[0].body
    assert standing_of(account_row(auth), (), now=auth.clock.now()).state is AccountState.locked


def test_a_lock_ends_by_itself_and_the_owner_gets_in_with_a_step_up(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    locked = lock_out(auth)
    assert login(auth).status_code == 423

    auth.clock.advance(seconds=auth.settings.lock_seconds + 1)

    sent = len(mails_to(auth, "sign-in code"))
    challenged = login(auth)
    assert challenged.json()["code"] == "challenge_required" and locked["case_id"]
    code = wait_for_code(auth, "sign-in code", sent + 1)
    assert complete(auth, challenged.json()["challenge_id"], code).status_code == 200
    assert account_row(auth).state is AccountState.active


@pytest.fixture
def quick_locks(data_dir: Path) -> Iterator[AuthHarness]:
    """Locks after two wrong codes, so four locks in a row take few mails."""
    yield from harness(data_dir, lock_after_failed_step_ups=2, email_codes_per_hour=50)


def test_repeated_locks_grow_but_never_past_the_maximum(quick_locks: AuthHarness) -> None:
    auth = quick_locks
    owner_signs_in_at_home(auth)
    durations = []
    for _ in range(4):
        body = lock_out(auth)
        locked_until = account_row(auth).locked_until
        assert locked_until is not None
        durations.append(locked_until - auth.clock.now())
        assert body["code"] == "account_locked"
        auth.clock.advance(seconds=auth.settings.lock_max_seconds)  # every lock is over by then
    assert [duration.total_seconds() for duration in durations] == [900, 1800, 3600, 3600]


# -- self-service unlock -------------------------------------------------------------------------


def test_the_owner_unlocks_by_self_service_in_minutes(auth: AuthHarness) -> None:
    old_token = owner_signs_in_at_home(auth)
    case_id = lock_out(auth)["case_id"]
    new_password = "cedar-lantern-morning-42"

    sent = auth.call("POST", SEND_UNLOCK, ip=HOME, json={"email": EMAIL})
    assert sent.status_code == 202
    code = wait_for_code(auth, "unlock code", 1)

    weak = auth.call(
        "POST", UNLOCK, ip=HOME, device=LAPTOP, json={"email": EMAIL, "code": code, "new_password": "password"}
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    wrong = auth.call(
        "POST",
        UNLOCK,
        ip=HOME,
        device=LAPTOP,
        json={"email": EMAIL, "code": "000000" if code != "000000" else "111111", "new_password": new_password},
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_code"
    unlocked = auth.call(
        "POST", UNLOCK, ip=HOME, device=LAPTOP, json={"email": EMAIL, "code": code, "new_password": new_password}
    )

    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["status"] == "unlocked" and unlocked.json()["revoked_sessions"] == 1
    assert auth.call("GET", "/api/auth/me", token=old_token).status_code == 401  # every old session ended
    assert auth.call("GET", "/api/auth/me", token=unlocked.json()["access_token"]).json()["state"] == "active"
    assert login(auth).status_code == 401  # the old password is gone
    assert login(auth, new_password).status_code == 200
    again = auth.call("POST", UNLOCK, ip=HOME, json={"email": EMAIL, "code": code, "new_password": new_password})
    assert again.status_code == 401  # the code worked once
    with auth.app.state.db.session() as db:
        events = db.execute(select(outbox_table).where(outbox_table.c.event_type == "account.unlocked")).all()
    assert [event.payload["case_id"] for event in events] == [case_id]


def test_send_unlock_code_answers_alike_for_any_address_and_mails_only_a_locked_owner(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    answers = [
        auth.call("POST", SEND_UNLOCK, json={"email": address})
        for address in (EMAIL, "nobody@example.com", "not an address")
    ]
    assert {answer.status_code for answer in answers} == {202}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    with auth.app.state.db.session() as db:  # filed messages are what the mailer sends
        assert db.execute(select(Message).where(Message.template == "unlock_code")).first() is None
    lock_out(auth)
    assert auth.call("POST", SEND_UNLOCK, json={"email": EMAIL}).json() == answers[0].json()
    assert wait_for_code(auth, "unlock code", 1)


# -- account states and hashing ------------------------------------------------------------------


def test_a_restricted_account_signs_in_and_a_closed_one_is_told_only_with_the_right_password(
    auth: AuthHarness,
) -> None:
    owner_signs_in_at_home(auth)
    with auth.app.state.db.session() as db:
        add_restriction(
            db,
            db.execute(select(Account)).scalar_one(),
            case_id="c" * 32,
            kind="payment_verification",
            reason="",
            now=auth.clock.now(),
        )
        db.commit()
    assert login(auth).status_code == 200
    with auth.app.state.db.session() as db:
        db.execute(update(Account).values(state=AccountState.closed))
        db.commit()
    assert login(auth).json()["code"] == "account_closed"
    assert login(auth, "not-the-password").json()["code"] == "invalid_credentials"


def test_a_hash_made_with_older_parameters_is_upgraded_at_sign_in(auth: AuthHarness) -> None:
    from services.auth.credentials.passwords import Passwords

    owner_signs_in_at_home(auth)
    assert "m=19456,t=2" in str(account_row(auth).password_hash)
    auth.app.state.passwords = Passwords(memory_kib=19 * 1024, time_cost=3, parallelism=1)

    assert login(auth).status_code == 200

    assert "m=19456,t=3" in str(account_row(auth).password_hash)


# -- a thousand guesses --------------------------------------------------------------------------


@pytest.fixture
def cheap_hashing(data_dir: Path) -> Iterator[AuthHarness]:
    """Argon2 at 1 MiB and one pass (instead of 19 MiB, two passes) so 1,000 guesses run in
    seconds; the rules under test do not depend on the hashing cost."""
    yield from harness(data_dir, argon2_memory_kib=1024, argon2_time_cost=1)


def test_a_thousand_guesses_from_a_hundred_addresses_sign_nobody_in_and_lock_nobody_out(
    cheap_hashing: AuthHarness,
) -> None:
    auth = cheap_hashing
    owner_signs_in_at_home(auth)

    answers: Counter[str] = Counter()
    for guess in range(1000):
        ip = f"198.18.0.{guess % 100 + 1}"
        response = login(auth, f"guess-{guess:04d}-password", ip=ip, device=None)
        answers[str(response.json().get("code", response.status_code))] += 1
        if response.json().get("code") == "challenge_required":  # try to pass it, too
            tried = complete(auth, response.json()["challenge_id"], f"{guess:06d}", ip=ip, device=None)
            answers["challenge:" + str(tried.json().get("code", tried.status_code))] += 1

    assert set(answers) <= {
        "invalid_credentials",
        "rate_limited",
        "challenge_required",
        "challenge:invalid_code",
        "challenge:rate_limited",
    }, answers
    assert answers["challenge_required"] > 0  # the consecutive-failure guard closed the oracle
    account = account_row(auth)
    assert account.failure_streak >= auth.settings.max_consecutive_failures
    assert account.locked_until is None and account.state is AccountState.active  # guesses never lock
    # The owner types the password, gets the mailed code, and is in.
    challenged = login(auth)
    assert challenged.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)
    assert complete(auth, challenged.json()["challenge_id"], code).status_code == 200
    # Passing the step-up ended the guard: a wrong password is simply wrong again.
    assert login(auth, "not-the-password", ip="192.0.2.200").json()["code"] == "invalid_credentials"


# -- TOTP step-up --------------------------------------------------------------------------------


def test_with_totp_enrolled_the_step_up_takes_a_fresh_totp_code_or_a_recovery_code_once(auth: AuthHarness) -> None:
    import pyotp

    token = owner_signs_in_at_home(auth)
    secret = auth.call("POST", "/api/auth/totp/enroll", token=token).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = auth.call("POST", "/api/auth/totp/confirm", token=token, json={"code": totp.at(auth.clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    recovery_codes = confirmed.json()["recovery_codes"]
    auth.clock.advance(seconds=30)  # the confirming code's time step is spent

    challenged = login(auth, device="hana-tablet-01").json()

    assert challenged["code"] == "challenge_required" and challenged["methods"] == ["totp", "recovery_code"]
    wrong = complete(auth, challenged["challenge_id"], "000000", method="totp", device="hana-tablet-01")
    assert wrong.json()["code"] == "invalid_code"
    code = totp.at(auth.clock.now())
    passed = complete(auth, challenged["challenge_id"], code, method="totp", device="hana-tablet-01")
    assert passed.status_code == 200, passed.text
    # The same code again, in a new challenge: refused (a TOTP code is accepted once).
    replay = login(auth, device="hana-tablet-02").json()
    assert complete(auth, replay["challenge_id"], code, method="totp", device="hana-tablet-02").json()["code"] == (
        "invalid_code"
    )
    by_recovery = complete(
        auth, replay["challenge_id"], recovery_codes[0], method="recovery_code", device="hana-tablet-02"
    )
    assert by_recovery.status_code == 200
    # The tablet passed TOTP: it is known now, and needs no code next time.
    assert login(auth, device="hana-tablet-01").status_code == 200
    again = login(auth, device="hana-tablet-03").json()
    used = complete(auth, again["challenge_id"], recovery_codes[0], method="recovery_code", device="hana-tablet-03")
    assert used.json()["code"] == "invalid_code"
    with auth.app.state.db.session() as db:  # TOTP challenges mail nothing
        assert db.execute(select(Message).where(Message.template == "login_code")).first() is None


# -- the consecutive-failure guard ---------------------------------------------------------------


@pytest.fixture
def short_guard(data_dir: Path) -> Iterator[AuthHarness]:
    """The NIST guard after 5 consecutive failures instead of 100, to see it in a few calls."""
    yield from harness(data_dir, max_consecutive_failures=5)


def test_past_the_consecutive_failure_limit_a_guess_learns_nothing_and_the_owner_gets_in(
    short_guard: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = short_guard
    owner_signs_in_at_home(auth)
    for n in range(5):
        assert login(auth, f"guess-number-{n}", ip=f"198.51.100.{n + 1}", device=None).status_code == 401

    wrong = login(auth, "guess-number-99", ip="198.51.100.50", device=None).json()
    right = login(auth, ip="198.51.100.51", device=None).json()

    assert wrong["code"] == right["code"] == "challenge_required"
    assert wrong["methods"] == right["methods"] == ["passkey", "totp", "recovery_code", "email_code"]
    assert len(mails_to(auth, "sign-in code")) <= 1  # only the right password's challenge mails a code
    code = wait_for_code(auth, "sign-in code", 1)
    assert complete(auth, wrong["challenge_id"], code, ip="198.51.100.50", device=None).json()["code"] == "invalid_code"
    assert account_row(auth).failed_step_ups == 0  # a wrong password's challenge never counts toward a lock
    assert complete(auth, right["challenge_id"], code, ip="198.51.100.51", device=None).status_code == 200
    assert account_row(auth).failure_streak == 0


def test_past_the_limit_a_lock_shows_only_after_the_mailed_code(short_guard: AuthHarness) -> None:
    auth = short_guard
    owner_signs_in_at_home(auth)
    case_id = lock_out(auth)["case_id"]  # ten wrong codes: the streak is past the limit too
    assert account_row(auth).failure_streak >= auth.settings.max_consecutive_failures
    with auth.app.state.db.session() as db:  # every code lock_out had mailed, delivered (it runs after commit)
        sent = len(db.execute(select(Message.id).where(Message.template == "login_code")).all())
    wait_for_code(auth, "sign-in code", sent)

    wrong = login(auth, "not-the-password", ip="192.0.2.31").json()
    right = login(auth, ip="192.0.2.32").json()

    assert wrong["code"] == right["code"] == "challenge_required"  # no 423 to tell the password
    code = wait_for_code(auth, "sign-in code", sent + 1)
    shown = complete(auth, right["challenge_id"], code, ip="192.0.2.32")
    assert shown.status_code == 423 and shown.json()["case_id"] == case_id


@pytest.fixture
def on_postgres(data_dir: Path, postgres_database: str) -> Iterator[AuthHarness]:
    yield from harness(data_dir, database_url=postgres_database)


@pytest.mark.postgres
def test_lock_and_self_service_unlock_on_postgresql(on_postgres: AuthHarness) -> None:
    auth = on_postgres
    owner_signs_in_at_home(auth)
    case_id = lock_out(auth)["case_id"]
    assert login(auth).json()["case_id"] == case_id
    auth.call("POST", SEND_UNLOCK, json={"email": EMAIL})
    code = wait_for_code(auth, "unlock code", 1)
    unlocked = auth.call(
        "POST", UNLOCK, json={"email": EMAIL, "code": code, "new_password": "cedar-lantern-morning-42"}
    )
    assert unlocked.status_code == 200, unlocked.text
    assert login(auth, "cedar-lantern-morning-42", ip="203.0.113.10", device=None).status_code == 200


def test_a_known_device_gets_in_from_an_address_a_guesser_has_throttled(auth: AuthHarness) -> None:
    """A shared address (an office, a carrier's NAT): the guesser's failures delay the address,
    not the owner's own device; a made-up device id does not pass."""
    owner_signs_in_at_home(auth)
    answers = [login(auth, f"guess-number-{n}", device=None).status_code for n in range(8)]
    assert answers[-1] == 429

    assert login(auth, "guess-number-99", device="made-up-device-01").status_code == 429
    assert login(auth).status_code == 200  # home, the laptop the account knows


def test_a_step_up_asked_by_another_service_applies_to_the_next_sign_in_even_on_a_known_device(
    auth: AuthHarness,
) -> None:
    owner_signs_in_at_home(auth)
    assert login(auth).status_code == 200  # the known laptop needs no step-up
    account_id = account_row(auth).id
    envelope = {
        "id": "stepup-1",
        "type": "account.stepup_required",
        "source": "orders",
        "occurred_at": auth.clock.now().isoformat(),
        "payload": {"account_id": account_id, "reason": "risky_order", "case_id": None},
    }
    assert deliver_event(auth.client, auth.app, envelope).json()["status"] == "applied"

    asked = login(auth)
    assert asked.status_code == 401 and asked.json()["code"] == "challenge_required"
    code = wait_for_code(auth, "sign-in code", 1)
    assert complete(auth, asked.json()["challenge_id"], code).status_code == 200
    assert login(auth).status_code == 200  # given once, the step-up is not asked again


def test_a_client_naming_no_device_at_an_unknown_address_steps_up_when_the_owner_uses_a_device(
    auth: AuthHarness,
) -> None:
    owner_signs_in_at_home(auth)  # with the laptop's device id

    stranger = login(auth, ip="198.51.100.123", device=None)  # a reused password, no cookie
    assert (stranger.status_code, stranger.json()["code"]) == (401, "challenge_required")
    assert login(auth, ip=HOME, device=None).status_code == 200  # the owner's own address still will do
