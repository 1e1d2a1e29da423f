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


def test_only_the_token_as_issued_is_accepted(auth: AuthHarness) -> None:
    """A JWT is three unpadded base64url parts (RFC 7515 §7.1). Another spelling of the same
    bytes (padding, a stray character the decoder would skip) is refused: no two strings are one
    token, so nothing that keys on the token (logs, a replay cache) can be sidestepped by respelling it."""
    pair = sign_in(auth, auth.register())
    header, payload, signature = pair.access_token.split(".")
    for respelled in (
        f"{pair.access_token}==",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}.{signature}.",
    ):
        refused = auth.call("GET", "/api/auth/me", token=respelled)
        assert refused.status_code == 401, respelled
        assert refused.json()["code"] == "invalid_token"
    assert auth.call("GET", "/api/auth/me", token=pair.access_token).status_code == 200
