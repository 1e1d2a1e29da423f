"""Passkeys through auth's API, each assertion signed by a software authenticator
(tests/support/webauthn_authenticator.py): register, sign in with no password, step up after a
password, "passkey required", remove, revert; and every relying-party check refusing with a clear
problem and nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.auth.accounts.models import Account
from services.auth.audit.models import SecurityEvent
from services.auth.passkeys.models import Passkey
from services.auth.sessions.models import Session
from tests.auth.conftest import STRONG_PASSWORD, AuthHarness
from tests.support.auth_changes import events, mail_body, messages_to, revert_code_in
from tests.support.auth_sessions import sign_in
from tests.support.auth_signin import COMPLETE, EMAIL, HOME, LAPTOP, harness, login, owner_signs_in_at_home
from tests.support.webauthn_authenticator import SoftwareAuthenticator, b64url

REGISTRATION_OPTIONS = "/api/auth/passkeys/registration/options"
REGISTRATION = "/api/auth/passkeys/registration"
SIGN_IN_OPTIONS = "/api/auth/passkeys/sign-in/options"
SIGN_IN = "/api/auth/passkeys/sign-in"
PASSKEYS = "/api/auth/passkeys"
REQUIRED = "/api/auth/me/passkey-required"
OTHER = "kenji@example.com"


# -- helpers ---------------------------------------------------------------------------------------


def customer(auth: AuthHarness, address: str = EMAIL) -> tuple[str, str]:
    """(account id, access token of a sign-in made just now)."""
    account_id = auth.register(address)
    return account_id, sign_in(auth, account_id).access_token


def begin_registration(auth: AuthHarness, access: str) -> dict[str, Any]:
    response = auth.call("POST", REGISTRATION_OPTIONS, token=access, json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


def finish_registration(auth: AuthHarness, access: str, ceremony_id: str, credential: Any, **body: Any) -> Any:
    return auth.call(
        "POST", REGISTRATION, token=access, json={"ceremony_id": ceremony_id, "credential": credential, **body}
    )


def add_passkey(auth: AuthHarness, access: str, authenticator: SoftwareAuthenticator, **body: Any) -> dict[str, Any]:
    started = begin_registration(auth, access)
    response = finish_registration(
        auth, access, started["ceremony_id"], authenticator.create(started["options"]), **body
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def begin_sign_in(auth: AuthHarness, ip: str = HOME) -> dict[str, Any]:
    response = auth.call("POST", SIGN_IN_OPTIONS, ip=ip, json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


def passkey_sign_in(auth: AuthHarness, authenticator: SoftwareAuthenticator, ip: str = HOME, **tamper: Any) -> Any:
    started = begin_sign_in(auth, ip)
    assertion = authenticator.get(started["options"], **tamper)
    return auth.call(
        "POST", SIGN_IN, ip=ip, device=LAPTOP, json={"ceremony_id": started["ceremony_id"], "credential": assertion}
    )


def passkeys_of(auth: AuthHarness, account_id: str, *, live_only: bool = True) -> list[Passkey]:
    with auth.app.state.db.session() as db:
        query = select(Passkey).where(Passkey.account_id == account_id)
        if live_only:
            query = query.where(Passkey.removed_at.is_(None))
        found = list(db.execute(query.order_by(Passkey.created_at)).scalars())
        for item in found:
            db.expunge(item)
        return found


def session_count(auth: AuthHarness, account_id: str) -> int:
    with auth.app.state.db.session() as db:
        return int(
            db.execute(select(func.count()).select_from(Session).where(Session.account_id == account_id)).scalar_one()
        )


def security_event_kinds(auth: AuthHarness, access: str) -> list[str]:
    response = auth.call("GET", "/api/auth/security-events", token=access)
    assert response.status_code == 200, response.text
    return [item["kind"] for item in response.json()["items"]]


def me(auth: AuthHarness, access: str) -> dict[str, Any]:
    response = auth.call("GET", "/api/auth/me", token=access)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator()


# -- registration and sign-in ----------------------------------------------------------------------


def test_a_registered_passkey_signs_in_with_no_password_and_no_step_up(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    account_id, access = customer(auth)
    started = begin_registration(auth, access)
    options = started["options"]
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["excludeCredentials"] == [] and options["attestation"] == "none"

    created = finish_registration(
        auth, access, started["ceremony_id"], authenticator.create(options), name="Hana's phone"
    )

    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Hana's phone" and created.json()["last_used_at"] is None
    assert created.json()["transports"] == ["hybrid", "internal"]
    listed = auth.call("GET", PASSKEYS, token=access).json()["passkeys"]
    assert [item["id"] for item in listed] == [created.json()["id"]]
    assert me(auth, access)["passkeys"] == 1

    # A new client, no e-mail typed, no password: the passkey names its account.
    signed_in = passkey_sign_in(auth, authenticator, ip="198.51.100.23")

    assert signed_in.status_code == 200, signed_in.text
    assert me(auth, signed_in.json()["access_token"])["account_id"] == account_id
    (stored,) = passkeys_of(auth, account_id)
    assert stored.sign_count == 1 and stored.last_used_at is not None
    assert auth.call("GET", PASSKEYS, token=access).json()["passkeys"][0]["last_used_at"] is not None


def test_adding_a_passkey_mails_a_notice_with_a_revert_code(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    account_id, access = customer(auth)

    add_passkey(auth, access, authenticator)

    body = mail_body(auth, EMAIL, "passkey_change")
    assert "a passkey was added" in body and revert_code_in(body)
    assert len(events(auth, account_id, "passkey_added")) == 1
    assert "passkey_added" in security_event_kinds(auth, access)


def test_the_notice_reads_in_japanese_for_a_japanese_account(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    account_id = auth.register(language="ja")
    access = sign_in(auth, account_id).access_token

    add_passkey(auth, access, authenticator)

    body = mail_body(auth, EMAIL, "passkey_change")
    assert "パスキーが追加されました" in body and "日本時間" in body and revert_code_in(body)


def test_a_second_passkey_gets_the_next_default_name_and_the_first_is_excluded(auth: AuthHarness) -> None:
    _, access = customer(auth)
    phone, laptop = SoftwareAuthenticator(), SoftwareAuthenticator()
    first = add_passkey(auth, access, phone)
    auth.clock.advance(seconds=5)

    started = begin_registration(auth, access)
    excluded = [item["id"] for item in started["options"]["excludeCredentials"]]
    assert excluded == [b64url(phone.only_credential_id())]
    with pytest.raises(ValueError, match="InvalidStateError"):
        phone.create(started["options"])  # a browser refuses to register the same authenticator twice
    second = finish_registration(auth, access, started["ceremony_id"], laptop.create(started["options"]))

    assert (first["name"], second.json()["name"]) == ("Passkey 1", "Passkey 2")
    assert [item["name"] for item in auth.call("GET", PASSKEYS, token=access).json()["passkeys"]] == [
        "Passkey 2",
        "Passkey 1",
    ]


def test_registering_needs_a_recent_sign_in(auth: AuthHarness) -> None:
    account_id = auth.register()
    pair = sign_in(auth, account_id)
    auth.clock.advance(minutes=11)
    access = auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": pair.refresh_token}).json()[
        "access_token"
    ]

    response = auth.call("POST", REGISTRATION_OPTIONS, token=access, json={})

    assert response.status_code == 401 and response.json()["code"] == "reauthentication_required"
    assert auth.call("POST", REGISTRATION_OPTIONS, json={}).status_code == 401


def test_a_restricted_account_may_not_add_a_passkey(auth: AuthHarness) -> None:
    account_id, access = customer(auth)
    with auth.app.state.db.session() as db:
        from services.auth.accounts.service import add_restriction

        account = db.get(Account, account_id)
        add_restriction(db, account, case_id="c" * 32, kind="payment_verification", reason="", now=auth.clock.now())
        db.commit()

    response = auth.call("POST", REGISTRATION_OPTIONS, token=access, json={})

    assert response.status_code == 403 and response.json()["code"] == "account_restricted"


# -- every relying-party check refuses, and nothing changes ----------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"origin": "http://evil.example"}, id="wrong origin"),
        pytest.param({"origin": "http://localhost:9999"}, id="another port"),
        pytest.param({"rp_id": "evil.example"}, id="wrong rp id"),
        pytest.param({"challenge": b64url(b"an old challenge of someone else")}, id="another challenge"),
        pytest.param({"user_verified": False}, id="no user verification"),
        pytest.param({"user_present": False}, id="no user presence"),
    ],
)
def test_a_registration_failing_a_check_is_refused_and_stores_nothing(
    auth: AuthHarness, authenticator: SoftwareAuthenticator, tamper: dict[str, Any]
) -> None:
    account_id, access = customer(auth)
    started = begin_registration(auth, access)

    refused = finish_registration(
        auth, access, started["ceremony_id"], authenticator.create(started["options"], **tamper)
    )

    assert refused.status_code == 422 and refused.json()["code"] == "passkey_invalid", refused.text
    assert passkeys_of(auth, account_id, live_only=False) == []
    assert messages_to(auth, EMAIL, "passkey_change") == []
    # The ceremony was spent by the refused answer: a corrected one must start again.
    retry = finish_registration(
        auth, access, started["ceremony_id"], SoftwareAuthenticator().create(started["options"])
    )
    assert retry.status_code == 410 and retry.json()["code"] == "ceremony_expired"
    assert passkeys_of(auth, account_id) == []


def test_a_registration_ceremony_is_single_use_short_lived_and_bound_to_its_account(auth: AuthHarness) -> None:
    account_id, access = customer(auth)
    other_id, other_access = customer(auth, OTHER)

    started = begin_registration(auth, access)
    credential = SoftwareAuthenticator().create(started["options"])
    stolen = finish_registration(auth, other_access, started["ceremony_id"], credential)
    assert stolen.status_code == 404 and stolen.json()["code"] == "ceremony_expired", "another's is as unknown"
    assert passkeys_of(auth, other_id) == []

    assert finish_registration(auth, access, started["ceremony_id"], credential).status_code == 201
    replayed = finish_registration(
        auth, access, started["ceremony_id"], SoftwareAuthenticator().create(started["options"])
    )
    assert replayed.status_code == 410 and replayed.json()["code"] == "ceremony_expired"

    late = begin_registration(auth, access)
    auth.clock.advance(seconds=auth.settings.passkey_ceremony_seconds + 1)
    access = sign_in(auth, account_id).access_token  # a fresh sign-in: only the ceremony is old
    expired = finish_registration(auth, access, late["ceremony_id"], SoftwareAuthenticator().create(late["options"]))
    assert expired.status_code == 410 and expired.json()["code"] == "ceremony_expired"
    assert len(passkeys_of(auth, account_id)) == 1


def test_a_credential_id_registered_anywhere_is_refused(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    _, access = customer(auth)
    other_id, other_access = customer(auth, OTHER)
    add_passkey(auth, access, authenticator)

    started = begin_registration(auth, other_access)
    copy = SoftwareAuthenticator().create(started["options"], credential_id=authenticator.only_credential_id())
    refused = finish_registration(auth, other_access, started["ceremony_id"], copy)

    assert refused.status_code == 409 and refused.json()["code"] == "passkey_exists"
    assert passkeys_of(auth, other_id) == []


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param({}, id="empty object"),
        pytest.param({"id": 5, "rawId": "x", "response": {}}, id="wrong types"),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "!!", "attestationObject": "??"},
            },
            id="not base64url",
        ),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "e30", "attestationObject": "oWFhYWI"},
            },
            id="not an attestation",
        ),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "bm90IGpzb24", "attestationObject": "AA"},
            },
            id="client data not json",
        ),
    ],
)
def test_malformed_registration_json_is_a_clear_problem(auth: AuthHarness, credential: dict[str, Any]) -> None:
    account_id, access = customer(auth)
    started = begin_registration(auth, access)

    refused = finish_registration(auth, access, started["ceremony_id"], credential)

    assert refused.status_code == 422 and refused.json()["code"] == "passkey_invalid", refused.text
    assert passkeys_of(auth, account_id, live_only=False) == []


def test_a_credential_that_is_not_an_object_is_a_validation_error(auth: AuthHarness) -> None:
    _, access = customer(auth)
    started = begin_registration(auth, access)

    for credential in ("a string", [1, 2], None):
        refused = finish_registration(auth, access, started["ceremony_id"], credential)
        assert refused.status_code == 422 and refused.json()["code"] == "validation_error", credential
    # Never reached the ceremony: it is still open.
    assert (
        finish_registration(
            auth, access, started["ceremony_id"], SoftwareAuthenticator().create(started["options"])
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"origin": "http://evil.example"}, id="wrong origin"),
        pytest.param({"rp_id": "evil.example"}, id="wrong rp id"),
        pytest.param({"challenge": b64url(b"not the ceremony's challenge")}, id="another challenge"),
        pytest.param({"user_verified": False}, id="no user verification"),
        pytest.param({"user_handle": b"someone else"}, id="another user handle"),
    ],
)
def test_a_sign_in_failing_a_check_is_refused_and_changes_nothing(
    auth: AuthHarness, authenticator: SoftwareAuthenticator, tamper: dict[str, Any]
) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    sessions = session_count(auth, account_id)

    refused = passkey_sign_in(auth, authenticator, **tamper)

    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid", refused.text
    assert session_count(auth, account_id) == sessions
    (stored,) = passkeys_of(auth, account_id)
    assert stored.sign_count == 0 and stored.last_used_at is None
    assert "passkey_refused" in security_event_kinds(auth, access)


def test_a_replayed_sign_in_is_refused(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    started = begin_sign_in(auth)
    body = {"ceremony_id": started["ceremony_id"], "credential": authenticator.get(started["options"])}
    assert auth.call("POST", SIGN_IN, ip=HOME, json=body).status_code == 200
    sessions = session_count(auth, account_id)

    replayed = auth.call("POST", SIGN_IN, ip=HOME, json=body)

    assert replayed.status_code == 401 and replayed.json()["code"] == "passkey_invalid"
    assert session_count(auth, account_id) == sessions
    # The same signed assertion in a new ceremony fails too: it signed the old challenge.
    fresh = begin_sign_in(auth)
    again = auth.call("POST", SIGN_IN, ip=HOME, json={**body, "ceremony_id": fresh["ceremony_id"]})
    assert again.status_code == 401 and again.json()["code"] == "passkey_invalid"


def test_an_expired_sign_in_ceremony_is_refused(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    started = begin_sign_in(auth)
    assertion = authenticator.get(started["options"])
    auth.clock.advance(seconds=auth.settings.passkey_ceremony_seconds + 1)

    late = auth.call("POST", SIGN_IN, ip=HOME, json={"ceremony_id": started["ceremony_id"], "credential": assertion})

    assert late.status_code == 401 and late.json()["code"] == "passkey_invalid"
    assert passkeys_of(auth, account_id)[0].sign_count == 0


@pytest.mark.parametrize("received", [0, 1, 2])
def test_a_counter_going_backwards_is_refused_and_shown_as_a_security_event(
    auth: AuthHarness, authenticator: SoftwareAuthenticator, received: int
) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    for _ in range(2):
        assert passkey_sign_in(auth, authenticator).status_code == 200
    sessions = session_count(auth, account_id)

    cloned = passkey_sign_in(auth, authenticator, sign_count=received)  # the real one is at 2

    assert cloned.status_code == 401 and cloned.json()["code"] == "passkey_cloned", cloned.text
    assert session_count(auth, account_id) == sessions
    assert passkeys_of(auth, account_id)[0].sign_count == 2
    listed = auth.call("GET", "/api/auth/security-events", token=access).json()["items"]
    regressed = [item for item in listed if item["kind"] == "passkey_counter_regressed"]
    assert len(regressed) == 1 and regressed[0]["actor"] == "system" and "counter" in regressed[0]["reason"]
    # The real authenticator, counting on, still signs in.
    assert passkey_sign_in(auth, authenticator).status_code == 200


def test_an_authenticator_that_does_not_count_keeps_signing_in(auth: AuthHarness) -> None:
    synced = SoftwareAuthenticator(counts=False, backed_up=True)
    account_id, access = customer(auth)
    add_passkey(auth, access, synced)

    for _ in range(2):
        assert passkey_sign_in(auth, synced).status_code == 200
    (stored,) = passkeys_of(auth, account_id)
    assert stored.sign_count == 0 and stored.backed_up is True


def test_an_unknown_credential_is_refused_like_any_failure(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    _, access = customer(auth)
    add_passkey(auth, access, authenticator)
    stranger = SoftwareAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": b64url(b"nobody")}, "challenge": b64url(b"x" * 32)})

    refused = passkey_sign_in(auth, stranger)

    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid"


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param({}, id="empty object"),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "!", "authenticatorData": "!", "signature": "!"},
            },
            id="not base64url",
        ),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAB",
                "type": "public-key",
                "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
            },
            id="id and rawId differ",
        ),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "password",
                "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
            },
            id="wrong type",
        ),
        pytest.param(
            {
                "id": "AAAA",
                "rawId": "AAAA",
                "type": "public-key",
                "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": "%%"},
            },
            id="bad user handle",
        ),
    ],
)
def test_malformed_sign_in_json_is_refused_like_any_failure(auth: AuthHarness, credential: dict[str, Any]) -> None:
    started = begin_sign_in(auth)

    refused = auth.call(
        "POST", SIGN_IN, ip=HOME, json={"ceremony_id": started["ceremony_id"], "credential": credential}
    )

    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid", refused.text


def test_a_removed_passkey_no_longer_signs_in(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    _, access = customer(auth)
    created = add_passkey(auth, access, authenticator)
    assert auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=access).status_code == 204

    refused = passkey_sign_in(auth, authenticator)

    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid"
    assert auth.call("GET", PASSKEYS, token=access).json()["passkeys"] == []
    assert me(auth, access)["passkeys"] == 0


def test_a_client_that_keeps_failing_waits_before_the_passkey_routes(auth: AuthHarness) -> None:
    for _ in range(auth.settings.throttle_client_free_failures + 1):
        started = begin_sign_in(auth, ip="198.51.100.77")
        auth.call("POST", SIGN_IN, ip="198.51.100.77", json={"ceremony_id": started["ceremony_id"], "credential": {}})

    waiting = auth.call("POST", SIGN_IN_OPTIONS, ip="198.51.100.77", json={})

    assert waiting.status_code == 429 and int(waiting.headers["retry-after"]) > 0
    assert auth.call("POST", SIGN_IN_OPTIONS, ip="198.51.100.78", json={}).status_code == 200


def test_a_locked_account_is_told_so_after_a_good_passkey(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    with auth.app.state.db.session() as db:
        from services.auth.accounts.service import start_lock

        account = db.get(Account, account_id)
        start_lock(db, account, now=auth.clock.now(), until=auth.clock.now().replace(year=2099), reason="test")
        db.commit()

    locked = passkey_sign_in(auth, authenticator)

    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"


# -- list, rename, remove ----------------------------------------------------------------------------


def test_another_accounts_passkey_cannot_be_renamed_or_removed(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    owner_id, access = customer(auth)
    created = add_passkey(auth, access, authenticator)
    _, other_access = customer(auth, OTHER)

    renamed = auth.call("PATCH", f"{PASSKEYS}/{created['id']}", token=other_access, json={"name": "mine now"})
    removed = auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=other_access)
    unknown = auth.call("DELETE", f"{PASSKEYS}/{'0' * 32}", token=access)

    assert (renamed.status_code, renamed.json()["code"]) == (404, "not_found")
    assert (removed.status_code, removed.json()["code"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert auth.call("GET", PASSKEYS, token=other_access).json()["passkeys"] == []
    (kept,) = passkeys_of(auth, owner_id)
    assert kept.name == "Passkey 1" and kept.removed_at is None


def test_rename_and_remove_own_passkey(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    _, access = customer(auth)
    created = add_passkey(auth, access, authenticator)

    renamed = auth.call("PATCH", f"{PASSKEYS}/{created['id']}", token=access, json={"name": "  Work laptop "})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Work laptop"
    bad = auth.call("PATCH", f"{PASSKEYS}/{created['id']}", token=access, json={"name": "line\nbreak"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    carded = auth.call("PATCH", f"{PASSKEYS}/{created['id']}", token=access, json={"name": "Visa 4556737586899855"})
    assert carded.status_code == 422 and carded.json()["code"] == "card_number_visible"
    listed = auth.call("GET", PASSKEYS, token=access).json()
    assert "4556737586899855" not in str(listed)
    auth.clock.advance(seconds=1)  # the newest notice is the removal's

    assert auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=access).status_code == 204

    assert "a passkey was removed" in mail_body(auth, EMAIL, "passkey_change")
    again = auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=access)
    assert again.status_code == 404


# -- step-up after a password --------------------------------------------------------------------------


def test_a_new_device_steps_up_with_the_passkey_after_the_password(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)

    challenged = login(auth, device="new-phone-0001")

    assert challenged.status_code == 401 and challenged.json()["code"] == "challenge_required"
    problem = challenged.json()
    assert problem["methods"] == ["passkey", "recovery_code"]  # the mailbox never stands in for a passkey
    assert [item["id"] for item in problem["passkey_options"]["allowCredentials"]] == [
        b64url(authenticator.only_credential_id())
    ]
    assertion = authenticator.get(problem["passkey_options"])
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={"challenge_id": problem["challenge_id"], "method": "passkey", "credential": assertion},
    )

    assert answered.status_code == 200, answered.text
    assert "access_token" in answered.json()
    replayed = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={"challenge_id": problem["challenge_id"], "method": "passkey", "credential": assertion},
    )
    assert replayed.status_code == 401 and replayed.json()["code"] == "challenge_used"


def test_a_wrong_password_gets_no_passkey_options(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)

    wrong = login(auth, "not-the-password-9", device="new-phone-0001")

    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    assert "passkey_options" not in wrong.json()


def test_another_accounts_passkey_does_not_pass_a_step_up(auth: AuthHarness) -> None:
    access = owner_signs_in_at_home(auth)
    owners = SoftwareAuthenticator()
    add_passkey(auth, access, owners)
    _, thief_access = customer(auth, OTHER)
    thiefs = SoftwareAuthenticator()
    add_passkey(auth, thief_access, thiefs)

    problem = login(auth, device="thief-phone-0001").json()
    # The thief signs the owner's challenge with the thief's own (registered) passkey.
    assertion = thiefs.get({**problem["passkey_options"], "allowCredentials": []})
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="thief-phone-0001",
        json={"challenge_id": problem["challenge_id"], "method": "passkey", "credential": assertion},
    )

    assert answered.status_code == 401 and answered.json()["code"] == "invalid_code", answered.text
    assert answered.json()["attempts_left"] == auth.settings.email_code_max_attempts - 1
    with auth.app.state.db.session() as db:
        assert db.execute(select(Account.failed_step_ups).where(Account.email == EMAIL)).scalar_one() == 1


def test_a_cloned_passkey_fails_the_step_up_and_leaves_an_event(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    assert passkey_sign_in(auth, authenticator).status_code == 200  # the counter is at 1

    problem = login(auth, device="new-phone-0001").json()
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={
            "challenge_id": problem["challenge_id"],
            "method": "passkey",
            "credential": authenticator.get(problem["passkey_options"], sign_count=1),
        },
    )

    assert answered.status_code == 401 and answered.json()["code"] == "passkey_cloned"
    assert "passkey_counter_regressed" in security_event_kinds(auth, access)


def test_a_passkey_answer_needs_a_credential_and_no_code(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    problem = login(auth, device="new-phone-0001").json()

    for body in (
        {"method": "passkey", "code": "123456"},
        {"method": "passkey"},
        {"method": "email_code", "code": "123456", "credential": {}},
    ):
        answered = auth.call("POST", COMPLETE, ip=HOME, json={"challenge_id": problem["challenge_id"], **body})
        assert answered.status_code == 422 and answered.json()["code"] == "validation_error", body


def test_the_step_up_passkey_challenge_is_short_lived(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    problem = login(auth, device="new-phone-0001").json()
    assertion = authenticator.get(problem["passkey_options"])
    auth.clock.advance(seconds=auth.settings.passkey_ceremony_seconds + 1)  # the login challenge lives on

    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={"challenge_id": problem["challenge_id"], "method": "passkey", "credential": assertion},
    )

    assert answered.status_code == 401 and answered.json()["code"] == "invalid_code"


# -- "passkey required" ----------------------------------------------------------------------------------


def test_passkey_required_refuses_the_password_alone(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    access = owner_signs_in_at_home(auth)
    codes = add_passkey(auth, access, authenticator)["recovery_codes"]  # the first passkey brings them
    auth.clock.advance(seconds=1)  # the newest notice is the switch's

    turned_on = auth.call("PUT", REQUIRED, token=access, json={"required": True})

    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json() == {"required": True, "recovery_codes": None}  # the unused ones are kept
    assert len(codes) == auth.settings.recovery_code_count
    assert me(auth, access)["passkey_required"] is True
    assert '"passkey required" was turned on' in mail_body(auth, EMAIL, "passkey_change")

    # The right password from the owner's own laptop at home: still only a step-up, never tokens.
    challenged = login(auth)
    assert challenged.status_code == 401 and challenged.json()["code"] == "challenge_required"
    problem = challenged.json()
    assert problem["methods"] == ["passkey", "recovery_code"]
    assert messages_to(auth, EMAIL, "login_code") == []  # no code mailed
    mailed = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device=LAPTOP,
        json={"challenge_id": problem["challenge_id"], "method": "email_code", "code": "123456"},
    )
    assert mailed.status_code == 422 and mailed.json()["code"] == "method_not_offered"

    with_code = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device=LAPTOP,
        json={"challenge_id": problem["challenge_id"], "method": "recovery_code", "code": codes[0]},
    )
    assert with_code.status_code == 200, with_code.text
    second = login(auth).json()
    with_passkey = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device=LAPTOP,
        json={
            "challenge_id": second["challenge_id"],
            "method": "passkey",
            "credential": authenticator.get(second["passkey_options"]),
        },
    )
    assert with_passkey.status_code == 200, with_passkey.text


def test_passkey_required_needs_a_passkey(auth: AuthHarness) -> None:
    _, access = customer(auth)

    refused = auth.call("PUT", REQUIRED, token=access, json={"required": True})

    assert refused.status_code == 409 and refused.json()["code"] == "no_passkey"
    assert me(auth, access)["passkey_required"] is False
    assert messages_to(auth, EMAIL, "passkey_change") == []


def test_removing_the_last_passkey_turns_passkey_required_off(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    _, access = customer(auth)
    created = add_passkey(auth, access, authenticator)
    assert auth.call("PUT", REQUIRED, token=access, json={"required": True}).status_code == 200
    auth.clock.advance(seconds=1)  # the newest notice is the removal's

    assert auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=access).status_code == 204

    assert me(auth, access)["passkey_required"] is False
    assert "It was the last one" in mail_body(auth, EMAIL, "passkey_change")
    assert login(auth, ip="203.0.113.10", device=None).status_code == 200


def test_the_first_passkey_of_an_account_without_totp_brings_recovery_codes_once(auth: AuthHarness) -> None:
    _, access = customer(auth)
    first = add_passkey(auth, access, SoftwareAuthenticator())
    second = add_passkey(auth, access, SoftwareAuthenticator())
    assert len(first["recovery_codes"]) == auth.settings.recovery_code_count
    assert second["recovery_codes"] is None  # the unused ones still stand


def test_turning_it_on_keeps_unused_recovery_codes(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    with auth.app.state.db.session() as db:
        from services.auth.totp.service import replace_recovery_codes

        replace_recovery_codes(db, db.get(Account, account_id), count=3, now=auth.clock.now())
        db.commit()

    turned_on = auth.call("PUT", REQUIRED, token=access, json={"required": True})
    unchanged = auth.call("PUT", REQUIRED, token=access, json={"required": True})

    assert turned_on.json() == {"required": True, "recovery_codes": None}
    assert unchanged.json() == {"required": True, "recovery_codes": None}
    assert len(messages_to(auth, EMAIL, "passkey_change")) == 2  # the passkey and the switch, not the no-op


# -- revert (S5) --------------------------------------------------------------------------------------------


def test_revert_removes_the_passkey_added_after_the_reported_change(auth: AuthHarness) -> None:
    account_id, owner_access = customer(auth)
    owners = SoftwareAuthenticator()
    owners_passkey = add_passkey(auth, owner_access, owners)
    auth.clock.advance(minutes=30)

    # The intruder, signed in with the password, changes it and adds a passkey of their own.
    intruder_access = sign_in(auth, account_id, ip="198.51.100.66").access_token
    changed = auth.call(
        "POST",
        "/api/auth/password/change",
        token=intruder_access,
        ip="198.51.100.66",
        json={"current_password": STRONG_PASSWORD, "new_password": "intruder-chose-this-9"},
    )
    assert changed.status_code == 200, changed.text
    auth.clock.advance(minutes=1)
    intruders = SoftwareAuthenticator()
    add_passkey(auth, intruder_access, intruders)
    assert passkey_sign_in(auth, intruders, ip="198.51.100.66").status_code == 200

    # The owner reports the password change with the code from its notice.
    code = revert_code_in(mail_body(auth, EMAIL, "change_notice"))
    reverted = auth.call("POST", "/api/auth/changes/revert", json={"code": code})

    assert reverted.status_code == 200, reverted.text
    assert set(reverted.json()["reverted"]) == {"password", "passkey"}
    assert [item.id for item in passkeys_of(auth, account_id)] == [owners_passkey["id"]]
    refused = passkey_sign_in(auth, intruders, ip="198.51.100.66")
    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid"


def test_revert_of_a_passkey_removal_brings_it_back(auth: AuthHarness) -> None:
    account_id, owner_access = customer(auth)
    owners = SoftwareAuthenticator()
    created = add_passkey(auth, owner_access, owners)
    assert auth.call("PUT", REQUIRED, token=owner_access, json={"required": True}).status_code == 200
    auth.clock.advance(minutes=30)

    intruder_access = sign_in(auth, account_id, ip="198.51.100.66").access_token
    assert (
        auth.call("DELETE", f"{PASSKEYS}/{created['id']}", token=intruder_access, ip="198.51.100.66").status_code == 204
    )
    with auth.app.state.db.session() as db:
        assert db.get(Account, account_id).passkey_required is False

    removal_notice = mail_body(auth, EMAIL, "passkey_change")
    assert "It was the last one" in removal_notice
    reverted = auth.call("POST", "/api/auth/changes/revert", json={"code": revert_code_in(removal_notice)})

    assert reverted.status_code == 200, reverted.text
    assert [item.id for item in passkeys_of(auth, account_id)] == [created["id"]]
    with auth.app.state.db.session() as db:
        account = db.get(Account, account_id)
        assert account.passkey_required is True and account.state.value == "frozen"


def test_revert_of_the_passkey_addition_itself(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)

    reverted = auth.call(
        "POST", "/api/auth/changes/revert", json={"code": revert_code_in(mail_body(auth, EMAIL, "passkey_change"))}
    )

    assert reverted.status_code == 200 and reverted.json()["reverted"] == ["passkey"]
    assert passkeys_of(auth, account_id) == []
    with auth.app.state.db.session() as db:
        kinds = set(db.execute(select(SecurityEvent.kind).where(SecurityEvent.account_id == account_id)).scalars())
    assert {"passkey_added", "change_reverted", "account_frozen"} <= kinds


def test_a_frozen_accounts_passkey_does_not_sign_in(auth: AuthHarness, authenticator: SoftwareAuthenticator) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    auth.clock.advance(minutes=5)
    add_passkey(auth, access, SoftwareAuthenticator())
    code = revert_code_in(mail_body(auth, EMAIL, "passkey_change", index=-1))
    assert auth.call("POST", "/api/auth/changes/revert", json={"code": code}).status_code == 200
    assert len(passkeys_of(auth, account_id)) == 1  # the one from before the reported change stays

    refused = passkey_sign_in(auth, authenticator)

    assert refused.status_code == 401 and refused.json()["code"] == "passkey_invalid"
    assert passkeys_of(auth, account_id)[0].sign_count == 0


# -- "preferred" user verification -----------------------------------------------------------------------


@pytest.fixture
def preferred(data_dir: Path) -> Iterator[AuthHarness]:
    yield from harness(data_dir, passkey_user_verification="preferred")


def test_with_verification_preferred_a_step_up_takes_presence_but_a_sign_in_does_not(preferred: AuthHarness) -> None:
    auth = preferred
    access = owner_signs_in_at_home(auth)
    key = SoftwareAuthenticator()
    started = begin_registration(auth, access)
    assert started["options"]["authenticatorSelection"]["userVerification"] == "preferred"
    created = finish_registration(
        auth, access, started["ceremony_id"], key.create(started["options"], user_verified=False)
    )
    assert created.status_code == 201, created.text

    alone = passkey_sign_in(auth, key, user_verified=False)
    assert alone.status_code == 401 and alone.json()["code"] == "passkey_invalid"

    problem = login(auth, device="new-phone-0001").json()
    assert problem["passkey_options"]["userVerification"] == "preferred"
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={
            "challenge_id": problem["challenge_id"],
            "method": "passkey",
            "credential": key.get(problem["passkey_options"], user_verified=False),
        },
    )
    assert answered.status_code == 200, answered.text


def test_turning_totp_off_keeps_the_recovery_codes_passkey_required_relies_on(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    import pyotp

    account_id, access = customer(auth)
    secret = auth.call("POST", "/api/auth/totp/enroll", token=access).json()["secret"]
    codes = auth.call(
        "POST", "/api/auth/totp/confirm", token=access, json={"code": pyotp.TOTP(secret).at(auth.clock.now())}
    ).json()["recovery_codes"]
    add_passkey(auth, access, authenticator)
    assert auth.call("PUT", REQUIRED, token=access, json={"required": True}).json()["recovery_codes"] is None

    auth.clock.advance(seconds=30)
    off = auth.call(
        "POST", "/api/auth/totp/disable", token=access, json={"code": pyotp.TOTP(secret).at(auth.clock.now())}
    )

    assert off.status_code == 204, off.text
    problem = login(auth, ip="203.0.113.10", device=None).json()
    assert problem["methods"] == ["passkey", "recovery_code"]
    answered = auth.call(
        "POST", COMPLETE, json={"challenge_id": problem["challenge_id"], "method": "recovery_code", "code": codes[1]}
    )
    assert answered.status_code == 200, answered.text
    assert me(auth, answered.json()["access_token"])["account_id"] == account_id


def test_in_the_consecutive_failure_guard_the_passkey_is_offered_whatever_the_password(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    """Past the guard the answer must not tell a right password from a wrong one, passkey options included."""
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    with auth.app.state.db.session() as db:
        account = db.execute(select(Account).where(Account.email == EMAIL)).scalar_one()
        account.failure_streak = auth.settings.max_consecutive_failures
        db.commit()

    wrong = login(auth, "not-the-password-9").json()
    right = login(auth).json()

    assert wrong["code"] == right["code"] == "challenge_required"
    assert wrong["methods"] == right["methods"] == ["passkey", "totp", "recovery_code", "email_code"]
    assert wrong["passkey_options"].keys() == right["passkey_options"].keys()
    assert wrong["passkey_options"]["allowCredentials"] == right["passkey_options"]["allowCredentials"] == []
    # Passing the wrong password's challenge with the passkey still says the password was wrong.
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device=LAPTOP,
        json={
            "challenge_id": wrong["challenge_id"],
            "method": "passkey",
            "credential": authenticator.get(wrong["passkey_options"]),
        },
    )
    assert answered.status_code == 401 and answered.json()["code"] == "invalid_credentials"


def test_a_restricted_account_signs_in_with_its_passkey_to_see_its_case(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    account_id, access = customer(auth)
    add_passkey(auth, access, authenticator)
    with auth.app.state.db.session() as db:
        from services.auth.accounts.service import add_restriction

        add_restriction(
            db,
            db.get(Account, account_id),
            case_id="d" * 32,
            kind="payment_verification",
            reason="",
            now=auth.clock.now(),
        )
        db.commit()

    signed_in = passkey_sign_in(auth, authenticator)

    assert signed_in.status_code == 200, signed_in.text
    assert me(auth, signed_in.json()["access_token"])["state"] == "restricted"


def test_with_passkey_required_the_mailbox_and_a_new_password_unlock_but_do_not_sign_in(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    from tests.support.auth_signin import SEND_UNLOCK, UNLOCK, wait_for_code

    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    assert auth.call("PUT", REQUIRED, token=access, json={"required": True}).status_code == 200
    # Someone with the password fails the step-ups (wrong recovery codes) until the account locks.
    answer: Any = None
    for n in range(auth.settings.lock_after_failed_step_ups):
        ip = f"198.51.100.{n + 1}"
        problem = login(auth, ip=ip, device="thief-phone-0001").json()
        answer = auth.call(
            "POST",
            COMPLETE,
            ip=ip,
            json={"challenge_id": problem["challenge_id"], "method": "recovery_code", "code": "WRONG"},
        )
    assert answer.status_code == 423 and answer.json()["code"] == "account_locked"
    assert auth.call("POST", SEND_UNLOCK, ip=HOME, json={"email": EMAIL}).status_code == 202
    code = wait_for_code(auth, "unlock", 1)

    unlocked = auth.call(
        "POST", UNLOCK, ip=HOME, json={"email": EMAIL, "code": code, "new_password": "a-brand-new-password-42"}
    )

    assert unlocked.status_code == 401 and unlocked.json()["code"] == "challenge_required", unlocked.text
    problem = unlocked.json()
    assert problem["methods"] == ["passkey", "recovery_code"]
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        json={
            "challenge_id": problem["challenge_id"],
            "method": "passkey",
            "credential": authenticator.get(problem["passkey_options"]),
        },
    )
    assert answered.status_code == 200, answered.text


def test_ceremonies_long_expired_are_deleted_as_new_ones_open(auth: AuthHarness) -> None:
    from services.auth.passkeys.models import PasskeyCeremony

    old = begin_sign_in(auth)["ceremony_id"]
    auth.clock.advance(hours=2)
    fresh = begin_sign_in(auth)["ceremony_id"]

    with auth.app.state.db.session() as db:
        kept = set(db.execute(select(PasskeyCeremony.id)).scalars())
    assert kept == {fresh} and old not in kept


def test_a_passkey_account_is_never_sent_to_its_mailbox_and_its_passkey_always_answers(
    auth: AuthHarness, authenticator: SoftwareAuthenticator
) -> None:
    access = owner_signs_in_at_home(auth)
    add_passkey(auth, access, authenticator)
    for _ in range(auth.settings.email_codes_per_client_per_hour + 1):
        assert login(auth, device="new-phone-0001").json()["methods"] == ["passkey", "recovery_code"]

    problem = login(auth, device="new-phone-0001").json()

    assert problem["code"] == "challenge_required" and problem["methods"] == ["passkey", "recovery_code"]
    assert [mail for mail in auth.mails(EMAIL) if "sign-in code" in mail.subject] == []
    answered = auth.call(
        "POST",
        COMPLETE,
        ip=HOME,
        device="new-phone-0001",
        json={
            "challenge_id": problem["challenge_id"],
            "method": "passkey",
            "credential": authenticator.get(problem["passkey_options"]),
        },
    )
    assert answered.status_code == 200, answered.text


def test_the_options_routes_take_an_empty_body_or_none_and_nothing_else(auth: AuthHarness) -> None:
    _, access = customer(auth)
    assert auth.call("POST", SIGN_IN_OPTIONS).status_code == 200
    assert auth.call("POST", REGISTRATION_OPTIONS, token=access).status_code == 200
    for path in (SIGN_IN_OPTIONS, REGISTRATION_OPTIONS):
        extra = auth.call("POST", path, token=access, json={"rp_id": "evil.example"})
        assert extra.status_code == 422 and extra.json()["code"] == "validation_error", path
        broken = auth.call("POST", path, token=access, content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.json()["code"] == "malformed_body", path
