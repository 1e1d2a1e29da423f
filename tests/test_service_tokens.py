"""Service-to-service tokens: signed, addressed to one service, short-lived."""

from __future__ import annotations

import time

import jwt
import pytest

from mamori_common.problems import Problem
from mamori_common.service_auth import mint_service_token, verify_service_token

SECRET = "s" * 43


def test_a_token_names_its_caller() -> None:
    token = mint_service_token(SECRET, "orders", "auth")
    assert verify_service_token(token, SECRET, "auth") == "orders"


def test_a_token_for_one_service_is_refused_by_another() -> None:
    token = mint_service_token(SECRET, "orders", "auth")
    with pytest.raises(Problem) as refused:
        verify_service_token(token, SECRET, "verification")
    assert refused.value.status == 401


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = mint_service_token("x" * 43, "orders", "auth")
    with pytest.raises(Problem):
        verify_service_token(token, SECRET, "auth")


def test_an_expired_token_is_refused() -> None:
    now = int(time.time()) - 600
    token = jwt.encode(
        {"iss": "orders", "aud": "auth", "sub": "service:orders", "iat": now, "exp": now + 60},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(Problem):
        verify_service_token(token, SECRET, "auth")


def test_an_unsigned_token_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode(
        {"iss": "orders", "aud": "auth", "sub": "service:orders", "iat": now, "exp": now + 60},
        None,  # type: ignore[arg-type]  # PyJWT's stub wants a key, but "none" takes none
        algorithm="none",
    )
    with pytest.raises(Problem):
        verify_service_token(token, SECRET, "auth")
