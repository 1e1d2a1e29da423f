"""Password resets: requestPasswordReset (always 202) and confirmPasswordReset (single use, 30 minutes,
signs nobody in), the cool-down after a freeze, and the per-account cap on reset mails."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from services.auth.accounts.models import Account, AccountState, Role
from services.auth.accounts.standing import standing_of
from services.auth.messages.models import Message
from services.auth.resets import service
from services.auth.resets.models import ResetToken
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_changes import (
    OWNER,
    events,
    load,
    mail_body,
    make_staff,
    me,
    messages_to,
    open_session,
    reset_token_in,
    rows,
)

NEW_PASSWORD = "lantern-over-the-river-4"


def _request(auth: AuthHarness, email_address: str = OWNER, ip: str = "203.0.113.10") -> dict[str, object]:
    response = auth.call("POST", "/api/auth/password/reset", ip=ip, json={"email": email_address})
    assert response.status_code == 202, response.text
    return dict(response.json())


def _confirm(auth: AuthHarness, token: str, password: str = NEW_PASSWORD, **extra: object) -> httpx.Response:
    return auth.call(
        "POST", "/api/auth/password/reset/confirm", json={"token": token, "new_password": password, **extra}
    )


def _token(auth: AuthHarness, index: int = -1) -> str:
    return reset_token_in(mail_body(auth, OWNER, "password_reset", index))


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(auth: AuthHarness) -> None:
    auth.register(OWNER)
    known = _request(auth, OWNER)
    unknown = _request(auth, "nobody@example.com")
    assert known == unknown
    assert len(messages_to(auth, OWNER, "password_reset")) == 1
    assert rows(auth, select(Message).where(Message.recipient == "nobody@example.com")) == []


def test_a_reset_code_works_once_signs_nobody_in_and_ends_sessions(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    session = open_session(auth, account_id).access_token
    _request(auth)
    token = _token(auth)
    assert len(token) >= 43  # 32 random bytes
    [stored] = rows(auth, select(ResetToken))
    assert stored.token_hash != token and token not in stored.token_hash  # kept hashed only

    done = _confirm(auth, token)
    assert done.status_code == 200, done.text
    assert done.json() == {"status": "password_reset", "sessions_ended": 1, "recheck_items": []}
    assert "access_token" not in done.text and "refresh_token" not in done.text
    assert me(auth, session).status_code == 401
    account = load(auth, Account, account_id)
    assert auth.app.state.passwords.verify(account.password_hash, NEW_PASSWORD).ok
    assert "re-check" in mail_body(auth, OWNER, "password_reset_done")

    again = _confirm(auth, token, "another-fresh-passphrase-5")
    assert again.status_code == 410
    assert again.json()["code"] == "invalid_reset_token"
    account = load(auth, Account, account_id)
    assert auth.app.state.passwords.verify(account.password_hash, NEW_PASSWORD).ok


def test_a_reset_may_keep_the_other_sessions(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    session = open_session(auth, account_id).access_token
    _request(auth)
    done = _confirm(auth, _token(auth), end_other_sessions=False)
    assert done.json()["sessions_ended"] == 0
    assert me(auth, session).status_code == 200


def test_a_reset_code_expires_after_30_minutes(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    _request(auth)
    token = _token(auth)
    auth.clock.advance(minutes=31)
    response = _confirm(auth, token)
    assert response.status_code == 410
    assert response.json()["code"] == "invalid_reset_token"
    account = load(auth, Account, account_id)
    assert auth.app.state.passwords.verify(account.password_hash, STRONG_PASSWORD).ok


def test_an_unknown_reset_code_is_refused(auth: AuthHarness) -> None:
    auth.register(OWNER)
    response = _confirm(auth, "A" * 43)
    assert response.status_code == 404
    assert response.json()["code"] == "invalid_reset_token"


def test_a_weak_password_keeps_the_code_usable(auth: AuthHarness) -> None:
    auth.register(OWNER)
    _request(auth)
    token = _token(auth)
    weak = _confirm(auth, token, "password1")
    assert weak.status_code == 422
    assert weak.json()["code"] == "weak_password"
    assert _confirm(auth, token).status_code == 200


def test_a_reset_spends_every_other_reset_code(auth: AuthHarness) -> None:
    auth.register(OWNER)
    _request(auth)
    auth.clock.advance(seconds=1)
    _request(auth)
    first, second = _token(auth, 0), _token(auth, 1)
    assert first != second
    assert _confirm(auth, second).status_code == 200
    assert _confirm(auth, first, "another-fresh-passphrase-5").status_code == 410


def test_reset_mails_to_one_account_are_capped(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    cap = auth.settings.reset_mails_per_account
    for index in range(cap + 2):
        _request(auth, ip=f"198.51.100.{index + 1}")
        auth.clock.advance(seconds=1)
    assert len(messages_to(auth, OWNER, "password_reset")) == cap
    assert [e.details["outcome"] for e in events(auth, account_id, "password_reset_requested")][-2:] == [
        "suppressed",
        "suppressed",
    ]
    other = "ken@example.com"
    auth.register(other, name="Ken Sato")
    _request(auth, other, ip="198.51.100.200")
    assert len(messages_to(auth, other, "password_reset")) == 1  # the cap is per account


def test_reset_requests_from_one_address_are_throttled_whatever_the_address_typed(auth: AuthHarness) -> None:
    for index in range(auth.settings.reset_requests_per_ip):
        _request(auth, f"person{index}@example.com", ip="192.0.2.80")
    response = auth.call("POST", "/api/auth/password/reset", ip="192.0.2.80", json={"email": OWNER})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


def test_a_reset_lifts_a_temporary_lock(auth: AuthHarness) -> None:
    account_id = auth.register(OWNER)
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        account.locked_until = auth.clock.now().replace(year=auth.clock.now().year + 1)
        account.lock_case_id = "a" * 32
        account.failed_step_ups = 3
        db.commit()
    _request(auth)
    assert _confirm(auth, _token(auth)).status_code == 200
    account = load(auth, Account, account_id)
    assert standing_of(account, (), now=auth.clock.now()).state is AccountState.active
    assert account.locked_until is None and account.failed_step_ups == 0


def test_a_code_tried_during_the_cool_down_is_told_when_the_reset_opens(auth: AuthHarness) -> None:
    """Freezing spends every reset code, so this guards codes made another way (defence in depth)."""
    account_id = auth.register(OWNER)
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        account.state = AccountState.frozen
        account.password_hash = None
        account.state_case_id = "f" * 32
        account.reset_opens_at = auth.clock.now() + timedelta(hours=2)
        token = service.new_reset_token(db, account, now=auth.clock.now(), settings=auth.settings)
        db.commit()

    response = _confirm(auth, token)
    assert response.status_code == 423
    assert response.json()["code"] == "reset_cooling_down"
    assert response.json()["case_id"] == "f" * 32
    assert int(response.headers["retry-after"]) == 2 * 3600
    assert response.json()["opens_at"] == (auth.clock.now() + timedelta(hours=2)).isoformat()
    assert load(auth, Account, account_id).state is AccountState.frozen
    assert load(auth, Account, account_id).password_hash is None


def test_a_freeze_spends_reset_codes_mailed_before_it(auth: AuthHarness) -> None:
    """A code mailed before the freeze (maybe to the intruder's address) never opens the account."""
    account_id = auth.register(OWNER)
    _, specialist = make_staff(auth, Role.specialist, "specialist@mamori.example")
    _request(auth)
    before = _token(auth)
    for action in ("freeze", "unlock"):  # frozen, then the reset opened at once by staff
        response = auth.call(
            "POST",
            f"/api/auth/staff/accounts/{account_id}/{action}",
            token=specialist,
            json={"reason": "Customer reported an intrusion by phone"},
        )
        assert response.status_code == 200
    response = _confirm(auth, before)
    assert response.status_code == 410
    assert response.json()["code"] == "invalid_reset_token"
    assert load(auth, Account, account_id).password_hash is None


def test_hashing_a_new_password_takes_a_hashing_slot(auth: AuthHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory bound of HASHING_SLOTS holds for resets (and every other hash), not only sign-in."""
    from services.auth.credentials import passwords as module

    taken: list[str] = []

    class Recording:
        def __enter__(self) -> None:
            taken.append("slot")

        def __exit__(self, *exc: object) -> None:
            return None

    auth.register(OWNER)
    _request(auth)
    token = _token(auth)
    monkeypatch.setattr(module, "HASHING_SLOTS", Recording())
    assert _confirm(auth, token).status_code == 200
    assert taken == ["slot"]
