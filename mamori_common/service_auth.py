"""Service-to-service authentication: short-lived EdDSA JWTs, each service signing with its own key.

A caller mints a token naming itself (``iss``) and the service it calls (``aud``), signed with
its own private key (:mod:`mamori_common.service_keys`). The receiver checks it against the public
key of the service the token names: a service holding only its own key cannot pass for another,
and a token stolen from one hop cannot be replayed against another service; it expires in a
minute. Only ``EdDSA`` is accepted, so a token of the old shared HS256 secret (or ``none``) is
refused.

Every internal route says who may call it, next to the route::

    #: Orders asks before it takes money; nobody else needs to.
    StandingCaller = Annotated[str, Depends(service_caller("orders"))]

A valid token from a service not on the list gets ``403 caller_not_allowed``.
"""

from __future__ import annotations

import time
import uuid

import jwt
from fastapi import Request

from mamori_common.problems import Problem
from mamori_common.service_keys import ServiceKey, ServiceKeyring

TOKEN_LIFETIME_SECONDS = 60
_ALGORITHM = "EdDSA"


def mint_service_token(key: ServiceKey, audience: str) -> str:
    now = int(time.time())
    claims = {
        "iss": key.name,
        "aud": audience,
        "sub": f"service:{key.name}",
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key, algorithm=_ALGORITHM, headers={"kid": key.name})


def _invalid(detail: str) -> Problem:
    return Problem(401, "invalid_service_token", detail)


def verify_service_token(token: str, keyring: ServiceKeyring, audience: str) -> str:
    """Return the calling service's name, proven by its own key, or raise a 401 problem."""
    try:
        claimed = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid("The service token is missing, invalid or expired.") from exc
    issuer = claimed.get("iss")
    if header.get("alg") != _ALGORITHM or not isinstance(issuer, str):
        raise _invalid("The service token is not signed by a service's own key.")
    public_key = keyring.public_key(issuer)
    if public_key is None:
        raise _invalid("The service token names a service whose key is not known here.")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[_ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise _invalid("The service token is missing, invalid or expired.") from exc
    if claims.get("sub") != f"service:{issuer}":
        raise _invalid("The service token is not a service's.")
    if claims["aud"] != audience:  # one hop: a token for several services would open all of them
        raise _invalid("The service token must name this service alone.")
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int) or lifetime > TOKEN_LIFETIME_SECONDS:  # a leaked long-lived one opens nothing
        raise _invalid(f"A service token lives {TOKEN_LIFETIME_SECONDS} seconds at most.")
    return issuer


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def authenticated_service(request: Request) -> str:
    """The calling service, proven; who may call what is the route's :func:`service_caller`."""
    token = bearer_token(request)
    if token is None:
        raise _invalid("A service token is required.")
    return verify_service_token(token, request.app.state.service_keyring, request.app.state.service_name)


class service_caller:  # a class so its allow-list can be read back; used like a function
    """A dependency: the calling service, which must be one of ``allowed`` (else 403)."""

    def __init__(self, *allowed: str) -> None:
        if not allowed:
            raise ValueError("an internal route names at least one service that may call it")
        self.allowed = frozenset(allowed)

    def __call__(self, request: Request) -> str:
        caller = authenticated_service(request)
        if caller not in self.allowed:
            raise Problem(403, "caller_not_allowed", f"The {caller} service may not call this endpoint.")
        return caller
