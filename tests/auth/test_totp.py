"""TOTP: enrolment, confirmation with recovery codes, single-use codes, and the shared checks the
step-up challenges use (``check_totp``, ``use_recovery_code``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from sqlalchemy import select, text

from services.auth.accounts.models import Account
from services.auth.changes.models import AccountChange, ChangeKind
from services.auth.credentials.codes import normalise_readable_code, sha256_hex
from services.auth.totp.models import RecoveryCode
from services.auth.totp.service import check_totp, use_recovery_code
from tests.auth.conftest import AuthHarness
from tests.support.auth_sessions import events, me, sign_in


def code_now(auth: AuthHarness, secret: str) -> str:
    return pyotp.TOTP(secret).at(auth.clock.now())


def enroll(auth: AuthHarness, access: str) -> dict[str, Any]:
    response = auth.call("POST", "/api/auth/totp/enroll", token=access)
    assert response.status_code == 200, response.text
    return dict(response.json())


def enable_totp(auth: AuthHarness, access: str) -> tuple[str, list[str]]:
    """Enrol and confirm; return the secret and the recovery codes."""
    secret = enroll(auth, access)["secret"]
    response = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": code_now(auth, secret)})
    assert response.status_code == 200, response.text
    return secret, response.json()["recovery_codes"]


@pytest.fixture
def signed_in(auth: AuthHarness) -> tuple[str, str]:
    """(account id, access token) of a customer who just signed in."""
    account_id = auth.register()
    return account_id, sign_in(auth, account_id).access_token


def test_enroll_and_confirm_turns_totp_on_with_ten_recovery_codes(
    auth: AuthHarness, signed_in: tuple[str, str]
) -> None:
    account_id, access = signed_in

    enrolment = enroll(auth, access)

    uri = urlparse(enrolment["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/Mamori:hana@example.com"
    query = parse_qs(uri.query)
    assert query["issuer"] == ["Mamori"] and query["secret"] == [enrolment["secret"]]
    assert me(auth, access).json()["totp_enabled"] is False  # pending until confirmed

    response = auth.call(
        "POST", "/api/auth/totp/confirm", token=access, json={"code": code_now(auth, enrolment["secret"])}
    )

    assert response.status_code == 200, response.text
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert me(auth, access).json()["totp_enabled"] is True
    assert len(events(auth, account_id, "totp_enabled")) == 1


def test_a_wrong_code_does_not_turn_totp_on(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    secret = enroll(auth, access)["secret"]
    wrong = f"{(int(code_now(auth, secret)) + 500_000) % 1_000_000:06d}"

    for bad in (wrong, "12ab56", "1234567"):
        response = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": bad})
        assert response.status_code == 403 and response.json()["code"] == "invalid_code", bad

    assert me(auth, access).json()["totp_enabled"] is False
    with auth.app.state.db.session() as db:
        assert db.execute(select(RecoveryCode).where(RecoveryCode.account_id == account_id)).first() is None


def test_wrong_codes_are_limited_per_account(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    secret = enroll(auth, access)["secret"]
    wrong = f"{(int(code_now(auth, secret)) + 500_000) % 1_000_000:06d}"
    for _ in range(auth.settings.totp_code_failures_per_window):
        assert auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": wrong}).status_code == 403

    limited = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": code_now(auth, secret)})

    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert me(auth, access).json()["totp_enabled"] is False


def test_enrolling_again_replaces_the_pending_secret(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    first = enroll(auth, access)["secret"]
    second = enroll(auth, access)["secret"]
    assert first != second

    stale = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": code_now(auth, first)})
    assert stale.status_code == 403
    fresh = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": code_now(auth, second)})
    assert fresh.status_code == 200


def test_enrolling_while_enabled_is_a_conflict(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    enable_totp(auth, access)

    response = auth.call("POST", "/api/auth/totp/enroll", token=access)

    assert response.status_code == 409 and response.json()["code"] == "totp_already_enabled"


def test_confirm_without_enrolment_is_a_conflict(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    response = auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": "123456"})
    assert response.status_code == 409 and response.json()["code"] == "totp_not_enrolled"


def test_enrolling_needs_a_recent_sign_in(auth: AuthHarness) -> None:
    pair = sign_in(auth, auth.register())
    auth.clock.advance(minutes=11)
    # A refreshed token is valid, but the sign-in behind it is eleven minutes old.
    refreshed = auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": pair.refresh_token})
    access = refreshed.json()["access_token"]

    response = auth.call("POST", "/api/auth/totp/enroll", token=access)

    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert me(auth, access).json()["totp_enabled"] is False


def test_totp_routes_need_a_session(auth: AuthHarness) -> None:
    assert auth.call("POST", "/api/auth/totp/enroll").status_code == 401
    assert auth.call("POST", "/api/auth/totp/confirm", json={"code": "123456"}).status_code == 401


def test_the_secret_and_recovery_codes_are_not_stored_in_clear(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    secret, codes = enable_totp(auth, access)

    with auth.app.state.db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM accounts WHERE id = :id"), {"id": account_id}).mappings().one()
        stored = (
            connection.execute(text("SELECT code_hash FROM recovery_codes WHERE account_id = :id"), {"id": account_id})
            .scalars()
            .all()
        )

    assert row["totp_secret_encrypted"] and secret not in row["totp_secret_encrypted"]
    assert all(secret not in str(value) for value in row.values())
    assert auth.app.state.encryptor.decrypt(row["totp_secret_encrypted"]) == secret
    assert sorted(stored) == sorted(sha256_hex(normalise_readable_code(code)) for code in codes)
    assert not set(codes) & set(stored)


# --- a TOTP code is accepted once ---------------------------------------------------------------


def test_a_totp_code_is_accepted_once(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    secret, _ = enable_totp(auth, access)
    encryptor = auth.app.state.encryptor

    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        # The code that confirmed enrolment is spent already.
        assert not check_totp(db, account, code_now(auth, secret), encryptor=encryptor, now=auth.clock.now())

        auth.clock.advance(seconds=30)
        fresh = code_now(auth, secret)
        assert check_totp(db, account, fresh, encryptor=encryptor, now=auth.clock.now())
        db.commit()
        assert not check_totp(db, account, fresh, encryptor=encryptor, now=auth.clock.now())  # replay

        # An older code still inside the drift window is refused too, once a newer one was used.
        auth.clock.advance(seconds=30)
        newest = code_now(auth, secret)
        assert check_totp(db, account, newest, encryptor=encryptor, now=auth.clock.now())
        db.commit()
        assert not check_totp(db, account, fresh, encryptor=encryptor, now=auth.clock.now())


def test_check_totp_accepts_one_step_of_drift_and_refuses_more(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    secret, _ = enable_totp(auth, access)
    totp = pyotp.TOTP(secret)
    encryptor = auth.app.state.encryptor
    auth.clock.advance(minutes=5)
    now = auth.clock.now()

    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert not check_totp(db, account, totp.at(now, counter_offset=-2), encryptor=encryptor, now=now)
        assert check_totp(db, account, totp.at(now, counter_offset=-1), encryptor=encryptor, now=now)
        assert check_totp(db, account, totp.at(now, counter_offset=1), encryptor=encryptor, now=now)
        assert not check_totp(db, account, totp.at(now, counter_offset=2), encryptor=encryptor, now=now)


def test_check_totp_refuses_a_pending_secret(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    secret = enroll(auth, access)["secret"]

    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert not check_totp(
            db, account, code_now(auth, secret), encryptor=auth.app.state.encryptor, now=auth.clock.now()
        )


def test_a_replayed_code_cannot_disable_totp(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    secret, _ = enable_totp(auth, access)
    confirming = code_now(auth, secret)

    replay = auth.call("POST", "/api/auth/totp/disable", token=access, json={"code": confirming})
    assert replay.status_code == 403 and replay.json()["code"] == "invalid_code"
    assert me(auth, access).json()["totp_enabled"] is True

    auth.clock.advance(seconds=30)
    response = auth.call("POST", "/api/auth/totp/disable", token=access, json={"code": code_now(auth, secret)})
    assert response.status_code == 204
    assert me(auth, access).json()["totp_enabled"] is False


# --- recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_works_once(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    _, codes = enable_totp(auth, access)

    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        # Typed the way people type: lower case, without the dashes.
        typed = codes[0].replace("-", "").lower()
        assert use_recovery_code(db, account, typed, now=auth.clock.now())
        db.commit()
        assert not use_recovery_code(db, account, codes[0], now=auth.clock.now())
        assert not use_recovery_code(db, account, "AAAA-BBBB-CCCC-DDDD", now=auth.clock.now())
        assert use_recovery_code(db, account, codes[1], now=auth.clock.now())


def test_recovery_codes_belong_to_their_account(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    _, access = signed_in
    _, codes = enable_totp(auth, access)
    ken = auth.register("ken@example.com", name="Ken Mori")

    with auth.app.state.db.session() as db:
        assert not use_recovery_code(db, db.get(Account, ken), codes[0], now=auth.clock.now())


def test_disable_with_a_recovery_code_removes_totp_and_the_codes(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    _, codes = enable_totp(auth, access)

    response = auth.call("POST", "/api/auth/totp/disable", token=access, json={"code": codes[3]})

    assert response.status_code == 204
    assert me(auth, access).json()["totp_enabled"] is False
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account.totp_secret_encrypted is None
        assert db.execute(select(RecoveryCode).where(RecoveryCode.account_id == account_id)).first() is None
    assert len(events(auth, account_id, "totp_disabled")) == 1
    again = auth.call("POST", "/api/auth/totp/disable", token=access, json={"code": codes[4]})
    assert again.status_code == 409 and again.json()["code"] == "totp_not_enabled"


# --- TOTP changes notify the registered address with a revert code (story S5) ---------------------


def revert_code_in(body: str) -> str:
    found = re.search(r"\b([A-Z2-9]{4}(?:-[A-Z2-9]{4}){3})\b", body)
    assert found, f"no revert code in mail: {body}"
    return found.group(1)


def test_turning_totp_on_is_mailed_with_a_revert_code_that_turns_it_off(
    auth: AuthHarness, signed_in: tuple[str, str]
) -> None:
    account_id, access = signed_in
    enable_totp(auth, access)

    notice = auth.wait_for_mail("hana@example.com")
    assert "TOTP" in notice.subject
    with auth.app.state.db.session() as db:
        [change] = db.execute(select(AccountChange).where(AccountChange.account_id == account_id)).scalars().all()
        assert change.kind is ChangeKind.totp and change.old_value == {"totp_secret_encrypted": None}

    reverted = auth.call(
        "POST", "/api/auth/changes/revert", ip="198.51.100.7", json={"code": revert_code_in(notice.body)}
    )

    assert reverted.status_code == 200, reverted.text
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account.totp_enabled_at is None and account.totp_secret_encrypted is None


def test_turning_totp_off_is_mailed_and_remembers_the_old_secret(auth: AuthHarness, signed_in: tuple[str, str]) -> None:
    account_id, access = signed_in
    _, codes = enable_totp(auth, access)
    with auth.app.state.db.session() as db:
        stored = db.get(Account, account_id).totp_secret_encrypted

    assert auth.call("POST", "/api/auth/totp/disable", token=access, json={"code": codes[0]}).status_code == 204

    auth.wait_for_mail("hana@example.com", count=2)
    with auth.app.state.db.session() as db:
        changes = (
            db.execute(
                select(AccountChange).where(AccountChange.account_id == account_id).order_by(AccountChange.created_at)
            )
            .scalars()
            .all()
        )
        assert [change.new_value for change in changes] == [{"totp_enabled": True}, {"totp_enabled": False}]
        assert changes[1].old_value["totp_secret_encrypted"] == stored
