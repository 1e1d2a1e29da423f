"""The portal keeps auth's device token in an HttpOnly, SameSite=Strict cookie and sends it back
on the next sign-in, so the owner's browser is recognised (issue 16, point 3)."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from portal.session import DEVICE_TOKEN_COOKIE
from services.auth.signin.models import Device
from tests.auth.conftest import STRONG_PASSWORD
from tests.portal.conftest import PortalHarness

EMAIL = "hana@example.com"
BROWSER_IP = "127.0.0.1"  # the portal's test browser


def turn_totp_on(portal: PortalHarness) -> None:
    auth = portal.auth
    signed_in = auth.call("POST", "/api/auth/login", ip=BROWSER_IP, json={"email": EMAIL, "password": STRONG_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    access = signed_in.json()["access_token"]
    secret = auth.call("POST", "/api/auth/totp/enroll", token=access).json()["secret"]
    code = pyotp.TOTP(secret).at(auth.clock.now())
    assert auth.call("POST", "/api/auth/totp/confirm", token=access, json={"code": code}).status_code == 200


def test_the_portal_sets_the_device_cookie_and_sends_it_on_the_next_sign_in(portal: PortalHarness) -> None:
    portal.auth.register(EMAIL)
    first = portal.sign_in(EMAIL)
    assert first.status_code == 303 and first.headers["location"] == "/account"
    set_cookie = next(value for value in first.headers.get_list("set-cookie") if DEVICE_TOKEN_COOKIE in value)
    assert "HttpOnly" in set_cookie and "samesite=strict" in set_cookie.lower()
    token = portal.browser.cookies[DEVICE_TOKEN_COOKIE]
    with portal.auth.app.state.db.session() as db:
        assert db.execute(select(Device).where(Device.id == token.split(".")[0])).scalar_one_or_none()
    turn_totp_on(portal)

    again = portal.sign_in(EMAIL)  # TOTP is on: only the recognised browser at its address skips it

    assert again.status_code == 303 and again.headers["location"] == "/account", again.text
    assert portal.browser.cookies[DEVICE_TOKEN_COOKIE] != token, "rotated on the sign-in"


def test_a_browser_without_the_device_cookie_meets_the_totp(portal: PortalHarness) -> None:
    portal.auth.register(EMAIL)
    assert portal.sign_in(EMAIL).status_code == 303
    turn_totp_on(portal)
    portal.browser.cookies.delete(DEVICE_TOKEN_COOKIE)
    portal.browser.cookies.delete("mamori_session")

    answer = portal.sign_in(EMAIL)

    assert answer.status_code == 303 and answer.headers["location"] == "/signin/check"
