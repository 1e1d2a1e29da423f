"""The relying-party rules of passkeys (services/auth/passkeys/policy.py) on their own, and the
settings refusing a relying party no browser would accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.auth.config import AuthSettings
from services.auth.passkeys import policy

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def settings(**values: object) -> AuthSettings:
    return AuthSettings(**values)  # type: ignore[arg-type]


def test_a_counter_that_did_not_grow_is_a_regression() -> None:
    assert not policy.counter_regressed(0, 0)  # the authenticator does not count (synced passkeys)
    assert not policy.counter_regressed(0, 1)
    assert not policy.counter_regressed(41, 42)
    assert policy.counter_regressed(42, 42)
    assert policy.counter_regressed(42, 7)
    assert policy.counter_regressed(42, 0)  # a counting authenticator that suddenly sends 0


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=2**32 - 1))
def test_only_a_growing_counter_passes(stored: int, received: int) -> None:
    assert policy.counter_regressed(stored, received) == (received <= stored and (stored, received) != (0, 0))


def test_a_sign_in_with_the_passkey_alone_always_requires_user_verification() -> None:
    preferred = settings(passkey_user_verification="preferred")
    assert policy.requires_user_verification("sign_in", preferred)
    assert not policy.requires_user_verification("step_up", preferred)
    assert not policy.requires_user_verification("registration", preferred)
    required = settings()
    assert all(
        policy.requires_user_verification(purpose, required) for purpose in ("sign_in", "step_up", "registration")
    )


def test_a_ceremony_is_open_once_until_its_deadline() -> None:
    deadline = policy.ceremony_deadline(NOW, settings())
    assert deadline == NOW + timedelta(seconds=300)
    assert policy.ceremony_open(deadline, None, NOW)
    assert not policy.ceremony_open(deadline, None, deadline)
    assert not policy.ceremony_open(deadline, NOW, NOW)


def test_challenges_are_long_and_never_repeat() -> None:
    challenges = {policy.new_challenge() for _ in range(100)}
    assert len(challenges) == 100 and all(len(item) == 32 for item in challenges)


def test_passkey_required_stays_on_only_with_a_passkey() -> None:
    assert policy.required_stays_on(True, 1)
    assert not policy.required_stays_on(True, 0)
    assert not policy.required_stays_on(False, 3)


def test_an_account_holds_a_bounded_number_of_passkeys() -> None:
    limited = settings(passkeys_per_account=2)
    assert policy.may_add_passkey(1, limited) and not policy.may_add_passkey(2, limited)
    assert policy.default_name(0) == "Passkey 1"


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        ("localhost", ["http://localhost:8000"]),
        ("mamori.example.com", ["https://mamori.example.com", "https://www.mamori.example.com:8443"]),
        ("localhost", ["http://localhost:8000/"]),  # a trailing slash is dropped, as a browser sends none
    ],
)
def test_a_valid_relying_party_is_accepted(rp_id: str, origins: list[str]) -> None:
    configured = settings(passkey_rp_id=rp_id, passkey_origins=",".join(origins))
    assert configured.passkey_origins == [origin.rstrip("/") for origin in origins]


@pytest.mark.parametrize(
    ("rp_id", "origins", "problem"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000", "IP address"),
        ("::1", "http://[::1]:8000", "IP address"),
        ("localhost", "http://127.0.0.1:8000", "not on the rp id"),
        ("mamori.example.com", "https://evil.example", "not on the rp id"),
        ("mamori.example.com", "https://notmamori.example.com", "not on the rp id"),
        ("mamori.example.com", "http://mamori.example.com", "must use https"),
        ("https://mamori.example.com", "https://mamori.example.com", "bare domain"),
        ("localhost", "localhost:8000", "scheme://host"),
        ("localhost", "", "at least one"),
    ],
)
def test_a_relying_party_no_browser_accepts_is_refused_at_start(rp_id: str, origins: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        settings(passkey_rp_id=rp_id, passkey_origins=origins)


def test_the_environment_names_the_relying_party(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_PASSKEY_RP_ID", "mamori.example.com")
    monkeypatch.setenv("MAMORI_PASSKEY_ORIGINS", "https://mamori.example.com, https://shop.mamori.example.com")
    configured = AuthSettings()
    assert configured.passkey_rp_id == "mamori.example.com"
    assert configured.passkey_origins == ["https://mamori.example.com", "https://shop.mamori.example.com"]
