"""Checking access tokens: every service verifies them itself against auth's published keys.

Auth signs short-lived EdDSA JWTs; the other services and the gateway fetch its JWKS once and
cache it (refetching on an unknown ``kid``, so a key rotation needs no restart). A token whose
session has ended is refused too: :func:`require_principal` asks the app's
:class:`~mamori_common.revocations.RevokedSessions` (a dict lookup). Tokens come as a bearer header
only: no cookie carries one. Whether the caller may do a particular thing stays with each route:
this module only says who is calling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mamori_common.clock import Clock, SystemClock
from mamori_common.problems import Problem
from mamori_common.service_auth import bearer_token

ISSUER = "mamori-auth"
AUDIENCE = "mamori"
ALGORITHMS = ["EdDSA"]
LEEWAY_SECONDS = 5
#: A JWS in compact serialization: three base64url parts without padding (RFC 7515 §3.1, §7.1).
#: PyJWT's decoder also takes padded parts, so one token could be spelled several ways; only the
#: spelling auth issued is a token here.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the access token says."""

    account_id: str
    session_id: str
    role: str
    auth_time: int
    claims: dict[str, Any]

    @property
    def is_staff(self) -> bool:
        return self.role != "customer"


KeyResolver = Callable[[str], Any]


class AccessTokenVerifier:
    """Verifies signature, issuer, audience and expiry; ``resolve_key`` maps a ``kid`` to a key."""

    def __init__(self, resolve_key: KeyResolver, clock: Clock | None = None) -> None:
        self.resolve_key = resolve_key
        #: Expiry is judged on the app's clock (the one tokens are minted on), so tests can move it.
        self.clock = clock or SystemClock()

    @classmethod
    def from_jwks_url(cls, url: str | Sequence[str], clock: Clock | None = None) -> AccessTokenVerifier:
        """``url``: the JWKS of auth, or of each of its replicas (any one that answers will do:
        a key fetched only from replica 0 failed every token while that replica was down)."""
        urls = [url] if isinstance(url, str) else list(url)
        clients = [jwt.PyJWKClient(each, cache_keys=True, lifespan=300, timeout=5) for each in urls]

        def resolve(kid: str) -> Any:
            for client in clients[:-1]:
                try:
                    return client.get_signing_key(kid).key
                except jwt.PyJWKClientConnectionError:
                    continue
            return clients[-1].get_signing_key(kid).key

        return cls(resolve, clock)

    def verify(self, token: str) -> Principal:
        try:
            if COMPACT_JWS.fullmatch(token) is None:
                raise jwt.DecodeError("not a compact JWS")
            header = jwt.get_unverified_header(token)
            key = self.resolve_key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "sid", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            now = self.clock.now().timestamp()
            if not (int(claims["iat"]) - LEEWAY_SECONDS <= now < int(claims["exp"]) + LEEWAY_SECONDS):
                raise jwt.ExpiredSignatureError("outside the token's lifetime")
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Problem(
                401,
                "invalid_token",
                "The access token is missing, invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from exc
        return Principal(
            account_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            role=str(claims.get("role", "customer")),
            auth_time=int(claims.get("auth_time", claims["iat"])),
            claims=claims,
        )


class Revocations(Protocol):
    def is_revoked(self, session_id: str) -> bool: ...


def session_revoked() -> Problem:
    return Problem(
        401,
        "session_revoked",
        "This session has ended. Sign in again.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def access_token_from(request: Request) -> str | None:
    """The bearer token (``Authorization: Bearer``): the only way a token is accepted."""
    return bearer_token(request)


#: Declares the access token in the OpenAPI (``security`` on every operation that needs one), so a
#: client, and schemathesis, know which calls answer 401 without it. The token is still read by
#: :func:`access_token_from`, from this header only (no cookie is ever a token).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    bearerFormat="JWT",
    description="The access token from login, as `Authorization: Bearer`.",
)


def require_principal(
    request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None
) -> Principal:
    token = access_token_from(request)
    if token is None:
        raise Problem(
            401,
            "unauthenticated",
            "Sign in first: this operation needs an access token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(token)
    # Every service but auth holds the ended sessions (auth's routes read the session row itself).
    revocations: Revocations | None = request.app.state.revocations
    if revocations is not None and revocations.is_revoked(principal.session_id):
        raise session_revoked()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only the named roles through (403 otherwise)."""
    allowed: Sequence[str] = roles

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Problem(403, "forbidden", f"This operation is for {', '.join(allowed)} only.")
        return principal

    return check
