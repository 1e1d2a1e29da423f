"""Devices are recognised by a server-issued, signed, rotating token, never by a name the client
chooses; and a recognised device never waives TOTP on a sign-in from a new address.

Issue 16, point 3: on main, sending the owner's ``X-Device-ID`` (which ``listSessions`` echoed)
from a new address signed in with the password alone, TOTP enrolled or not.
"""

from __future__ import annotations

from typing import Any

import pyotp
from sqlalchemy import select

from services.auth.signin.models import Device
from tests.auth.conftest import AuthHarness
from tests.support.auth_signin import ATTACKER, EMAIL, HOME, LAPTOP, LOGIN, login, owner_signs_in_at_home

SESSIONS = "/api/auth/sessions"


def owner_with_totp(auth: AuthHarness) -> tuple[str, str]:
    """The owner signs in at home on the laptop and turns TOTP on; (access token, TOTP secret)."""
    access = owner_signs_in_at_home(auth)
    secret = auth.call("POST", "/api/auth/totp/enroll", token=access).json()["secret"]
    confirmed = auth.call(
        "POST", "/api/auth/totp/confirm", token=access, json={"code": pyotp.TOTP(secret).at(auth.clock.now())}
    )
    assert confirmed.status_code == 200, confirmed.text
    return access, secret


def login_with(auth: AuthHarness, ip: str, headers: dict[str, str]) -> Any:
    return auth.call("POST", LOGIN, ip=ip, headers=headers, json={"email": EMAIL, "password": "plum-blossom-harbour-7"})


def test_the_device_value_listsessions_shows_does_not_skip_totp_from_a_new_address(auth: AuthHarness) -> None:
    access, _ = owner_with_totp(auth)
    listed = auth.call("GET", SESSIONS, token=access).json()["sessions"]
    shown = listed[0]["device_id"]
    assert shown, "the session names its device"

    for headers in ({"x-device-id": shown}, {"x-device-token": shown}, {"x-device-id": LAPTOP}):
        answer = login_with(auth, ATTACKER, headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "challenge_required" and "totp" in answer.json()["methods"]


def test_a_forged_or_guessed_device_token_is_no_device(auth: AuthHarness) -> None:
    access, _ = owner_with_totp(auth)
    handle = auth.call("GET", SESSIONS, token=access).json()["sessions"][0]["device_id"]
    real = auth.device_tokens[LAPTOP]
    forged = [
        f"{handle}.{'A' * 43}.{'B' * 22}",  # the right handle, a made-up secret and signature
        real[:-2] + ("AA" if not real.endswith("AA") else "BB"),  # the real token, its signature altered
        "hana-laptop-0001",
    ]
    for value in forged:
        for ip in (ATTACKER, HOME):
            answer = login_with(auth, ip, {"x-device-token": value})
            assert answer.status_code == 401 and answer.json()["code"] == "challenge_required", (value, ip)


def test_the_owners_real_token_signs_in_at_home_and_rotates(auth: AuthHarness) -> None:
    owner_with_totp(auth)
    first = auth.device_tokens[LAPTOP]

    again = login(auth)  # home, the laptop presenting its token
    assert again.status_code == 200, again.text
    second = again.json()["device_token"]
    assert second and second != first, "each sign-in gives the device a new token"

    stale = login_with(auth, HOME, {"x-device-token": first})
    assert stale.status_code == 401 and stale.json()["code"] == "challenge_required", "the old token is dead"
    assert login(auth).status_code == 200, "the newest one still works"


def test_a_stolen_device_token_from_a_new_address_still_meets_the_totp(auth: AuthHarness) -> None:
    owner_with_totp(auth)
    copied = auth.device_tokens[LAPTOP]

    answer = login_with(auth, ATTACKER, {"x-device-token": copied})

    assert answer.status_code == 401 and answer.json()["code"] == "challenge_required"
    assert answer.json()["methods"] == ["totp", "recovery_code"], "no mailed code, no device waiver"


def test_listsessions_and_the_table_hold_no_device_secret(auth: AuthHarness) -> None:
    access = owner_signs_in_at_home(auth)
    token = auth.device_tokens[LAPTOP]
    handle, secret, _mac = token.split(".")

    listed = auth.call("GET", SESSIONS, token=access).text
    assert token not in listed and secret not in listed
    me = auth.call("GET", "/api/auth/me", token=access).text
    assert secret not in me
    with auth.app.state.db.session() as db:
        device = db.execute(select(Device).where(Device.id == handle)).scalar_one()
    assert device.secret_hash != secret and secret not in device.secret_hash


def test_a_refresh_gives_no_device_token(auth: AuthHarness) -> None:
    owner_signs_in_at_home(auth)
    signed_in = login(auth).json()
    refreshed = auth.call("POST", "/api/auth/tokens/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["device_token"] is None
