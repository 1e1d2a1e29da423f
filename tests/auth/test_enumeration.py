"""No user enumeration through ``login``: an unknown address, a wrong password, a frozen account
(password invalidated) and a locked account with a wrong password answer alike, in the same time.

"The same time" is checked by what costs the time, not by a stopwatch (which depends on the
machine's load): every case runs exactly one Argon2 verification at the real cost, which dwarfs
everything else a sign-in does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mamori_common.db import utcnow
from services.auth.accounts.models import Account, AccountState
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_signin import complete, count_hashes, harness

PASSWORD = "plum-blossom-harbour-7"
TRIES = 3


def attempt(auth: AuthHarness, email: str, password: str, n: int, hashes: list[int]) -> tuple[int, dict[str, Any], int]:
    """One sign-in from a fresh address (so throttling stays out of the comparison); the answer and
    how many Argon2 verifications it ran."""
    before = len(hashes)
    response = auth.call(
        "POST", "/api/auth/login", ip=f"198.51.100.{n + 1}", json={"email": email, "password": password}
    )
    body = dict(response.json())
    body.pop("instance", None)
    return response.status_code, body, len(hashes) - before


def test_unknown_address_wrong_password_frozen_and_locked_accounts_answer_alike(
    auth: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.register("known@example.com")
    auth.register("frozen@example.com", name="Frozen Owner")
    auth.register("locked@example.com", name="Locked Owner")
    with auth.app.state.db.session() as db:
        db.execute(
            update(Account)
            .where(Account.email == "frozen@example.com")
            .values(state=AccountState.frozen, password_hash=None)
        )
        db.execute(
            update(Account)
            .where(Account.email == "locked@example.com")
            .values(lock_case_id="c" * 32, locked_until=utcnow() + timedelta(days=1))
        )
        db.commit()

    cases = {
        "unknown": ("nobody@example.com", PASSWORD),
        "wrong password": ("known@example.com", "not-the-password-1"),
        "frozen": ("frozen@example.com", PASSWORD),
        "locked, wrong password": ("locked@example.com", "not-the-password-1"),
    }
    answers: dict[str, set[tuple[int, str]]] = {name: set() for name in cases}
    costs: dict[str, set[int]] = {name: set() for name in cases}
    hasher = auth.app.state.passwords  # each Passwords.verify is one Argon2 verification, real or dummy
    hashes: list[int] = []
    real_verify = hasher.verify

    def counted(*args: Any, **kwargs: Any) -> Any:
        hashes.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(hasher, "verify", counted)
    for n in range(TRIES):
        for index, (name, (email, password)) in enumerate(cases.items()):
            status, body, cost = attempt(auth, email, password, n * len(cases) + index, hashes)
            answers[name].add((status, repr(sorted(body.items()))))
            costs[name].add(cost)

    distinct = {answer for found in answers.values() for answer in found}
    assert len(distinct) == 1, answers
    status, answer = next(iter(distinct))
    assert status == 401 and "invalid_credentials" in answer
    assert all(found == {1} for found in costs.values()), costs  # one Argon2 verification each, no more


GUARD = 3  # max_consecutive_failures, small so the test reaches the guard in a few attempts


@pytest.fixture
def guarded(data_dir: Path) -> Iterator[AuthHarness]:
    yield from harness(data_dir, max_consecutive_failures=GUARD)


def _comparable(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The answer without what differs on every call whoever asks (a fresh id, a fresh passkey challenge)."""
    options = {**body.get("passkey_options", {}), "challenge": "fresh"}
    return sorted(
        (name, options if name == "passkey_options" else value)
        for name, value in body.items()
        if name != "challenge_id"
    )


def test_past_the_consecutive_failure_guard_an_unknown_address_gets_a_decoy_challenge_alike(
    guarded: AuthHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = guarded
    auth.register("known@example.com")
    hashes = count_hashes(auth, monkeypatch)
    addresses = iter(range(GUARD * 4 + 10))
    wrong = "not-the-password-1"

    # Below the guard both answer 401 invalid_credentials ...
    for _ in range(GUARD):
        for email in ("known@example.com", "nobody@example.com"):
            status, body, cost = attempt(auth, email, wrong, next(addresses), hashes)
            assert (status, body["code"], cost) == (401, "invalid_credentials", 1)

    # ... and past it both ask for a code: same status, same body but for the id, one Argon2 each.
    answers = {}
    for email in ("known@example.com", "nobody@example.com"):
        status, body, cost = attempt(auth, email, wrong, next(addresses), hashes)
        assert cost == 1
        answers[email] = (status, body)
    (real_status, real), (decoy_status, decoy) = answers.values()
    assert real_status == decoy_status == 401
    assert real["code"] == "challenge_required"
    assert _comparable(real) == _comparable(decoy)

    # Answering either challenge goes the same way, to the end of its tries.
    for _ in range(auth.settings.email_code_max_attempts + 1):
        replies = []
        for body in (real, decoy):
            reply = complete(auth, body["challenge_id"], "123456", ip="203.0.113.77", device=None)
            answer = reply.json()
            answer.pop("instance", None)
            replies.append((reply.status_code, sorted(answer.items())))
        assert replies[0] == replies[1], replies

    # The owner with the right password is still asked for the mailed code (the guard), not locked out.
    owner = attempt(auth, "known@example.com", STRONG_PASSWORD, next(addresses), hashes)
    assert (owner[0], owner[1]["code"]) == (401, "challenge_required")


@pytest.mark.parametrize("factor", ["totp", "passkey"])
def test_past_the_guard_an_account_with_totp_or_a_passkey_answers_like_an_unknown_address(
    guarded: AuthHarness, monkeypatch: pytest.MonkeyPatch, factor: str
) -> None:
    from tests.auth.test_passkeys import add_passkey
    from tests.auth.test_totp import enable_totp
    from tests.support.auth_sessions import sign_in
    from tests.support.webauthn_authenticator import SoftwareAuthenticator, b64url

    auth = guarded
    account_id = auth.register("known@example.com")
    access = sign_in(auth, account_id).access_token
    authenticator = SoftwareAuthenticator()
    if factor == "totp":
        enable_totp(auth, access)
    else:
        add_passkey(auth, access, authenticator)
    hashes = count_hashes(auth, monkeypatch)
    addresses = iter(range(GUARD * 4 + 10))
    for _ in range(GUARD):
        for email in ("known@example.com", "nobody@example.com"):
            assert attempt(auth, email, "not-the-password-1", next(addresses), hashes)[0] == 401

    seen = [
        attempt(auth, email, password, next(addresses), hashes)
        for email, password in (
            ("known@example.com", "not-the-password-1"),
            ("known@example.com", STRONG_PASSWORD),
            ("nobody@example.com", "not-the-password-1"),
        )
    ]
    statuses = {status for status, _, _ in seen}
    assert statuses == {401}
    shapes = [_comparable(body) for _, body, _ in seen]
    assert shapes[0] == shapes[1] == shapes[2], shapes  # wrong password, right one, unknown address
    registered = [b64url(credential) for credential in authenticator.credentials] if factor == "passkey" else []
    for _, body, _ in seen:
        assert body["passkey_options"]["allowCredentials"] == []
        assert not any(credential in str(body) for credential in registered)


@pytest.mark.parametrize("method", ["passkey", "totp", "recovery_code"])
def test_past_the_guard_each_method_answers_alike_for_an_account_and_an_unknown_address(
    guarded: AuthHarness, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """The attacker answers both challenges by one method (a passkey of their own, a guessed code):
    the replies give nothing away."""
    from tests.auth.test_passkeys import add_passkey
    from tests.support.auth_sessions import sign_in
    from tests.support.webauthn_authenticator import SoftwareAuthenticator

    auth = guarded
    owner = auth.register("known@example.com")
    add_passkey(auth, sign_in(auth, owner).access_token, SoftwareAuthenticator())
    attacker = SoftwareAuthenticator()
    add_passkey(auth, sign_in(auth, auth.register("attacker@example.com")).access_token, attacker)
    hashes = count_hashes(auth, monkeypatch)
    addresses = iter(range(GUARD * 4 + 10))
    for _ in range(GUARD):
        for email in ("known@example.com", "nobody@example.com"):
            assert attempt(auth, email, "not-the-password-1", next(addresses), hashes)[0] == 401
    real = attempt(auth, "known@example.com", "not-the-password-1", next(addresses), hashes)[1]
    decoy = attempt(auth, "nobody@example.com", "not-the-password-1", next(addresses), hashes)[1]

    for _ in range(auth.settings.email_code_max_attempts + 1):
        replies = []
        for body in (real, decoy):
            if body["methods"] and method not in body["methods"]:
                pytest.skip(f"the guard does not offer {method}")
            guess: dict[str, object] = (
                {"credential": attacker.get(body["passkey_options"])}
                if method == "passkey"
                else {"code": "123456" if method == "totp" else "ABCD-EFGH-JKLM"}
            )
            reply = auth.call(
                "POST",
                "/api/auth/challenges/complete",
                ip="203.0.113.77",
                json={"challenge_id": body["challenge_id"], "method": method, **guess},
            )
            answer = reply.json()
            answer.pop("instance", None)
            replies.append((reply.status_code, sorted(answer.items())))
        assert replies[0] == replies[1], replies
