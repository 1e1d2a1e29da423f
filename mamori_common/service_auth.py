"""Service-to-service authentication: short-lived JWTs signed with the deployment's secret.

A caller mints a token naming itself (``iss``) and the service it calls (``aud``); a token stolen
from one hop cannot be replayed against another service, and it expires in a minute. Internal
routes depend on :func:`require_service_caller`.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import jwt
from fastapi import Depends, Request

from mamori_common.problems import Problem

TOKEN_LIFETIME_SECONDS = 60
_ALGORITHM = "HS256"


def mint_service_token(secret: str, issuer: str, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": f"service:{issuer}",
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_service_token(token: str, secret: str, audience: str) -> str:
    """Return the calling service's name, or raise a 401 problem."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=audience,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise Problem(401, "invalid_service_token", "The service token is missing, invalid or expired.") from exc
    if claims.get("sub") != f"service:{claims.get('iss')}":
        raise Problem(401, "invalid_service_token", "The service token is not a service's.")
    return str(claims["iss"])


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def require_service_caller(request: Request) -> str:
    token = bearer_token(request)
    if token is None:
        raise Problem(401, "invalid_service_token", "A service token is required.")
    return verify_service_token(token, request.app.state.service_secret, request.app.state.service_name)


ServiceCaller = Annotated[str, Depends(require_service_caller)]
