"""Access tokens live ten minutes, judged on the app's clock."""

from __future__ import annotations

from tests.auth.conftest import AuthHarness
from tests.support.auth_sessions import sign_in


def test_an_access_token_stops_working_after_ten_minutes(auth: AuthHarness) -> None:
    pair = sign_in(auth, auth.register())
    assert auth.call("GET", "/api/auth/me", token=pair.access_token).status_code == 200

    auth.clock.advance(minutes=10, seconds=6)
    expired = auth.call("GET", "/api/auth/me", token=pair.access_token)

    assert expired.status_code == 401
    assert expired.json()["code"] == "invalid_token"


def test_a_forged_token_is_refused(auth: AuthHarness) -> None:
    pair = sign_in(auth, auth.register())
    header, payload, signature = pair.access_token.split(".")
    forged = ".".join([header, payload, signature[::-1]])
    assert auth.call("GET", "/api/auth/me", token=forged).json()["code"] == "invalid_token"
