"""The cheap rejection: a throttled client address is turned away before anything else runs.

An ASGI middleware in front of the routes that a waiting client may not use (``login``,
``completeChallenge``, ``requestUnlock``): it reads only the socket peer, ``X-Forwarded-For``
(believed from trusted proxies only) and the device headers, asks the limiter how long the
address must wait, and answers the same ``429 rate_limited`` the routes would, before routing,
body parsing, validation, any database query or any password hash. A flood of guesses from one
address therefore costs about one counter lookup each.

Who passes to the route even so: a ``login`` presenting a device token this server signed
(``X-Device-Token`` or the portal's cookie, signature checked here without the database), because
a device the account knows is let past its address's delay (a busy shared address, see
:func:`services.auth.signin.password.sign_in`) and knowing it takes the database. A forged or made-up
value waits like any other client, and so does a token sent only in the body.
"""

from __future__ import annotations

import anyio
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from mamori_common.network import resolve_client_ip
from mamori_common.problems import problem_response
from mamori_common.quotas import rate_limited
from services.auth.signin import devices
from services.auth.signin.throttle import Throttle, throttle_of

#: POST paths a waiting client is refused on; True where a named device may still pass.
GATED_PATHS = {
    "/api/auth/login": True,
    "/api/auth/challenges/complete": False,
    "/api/auth/unlock": False,
    "/api/auth/passkeys/sign-in/options": False,
    "/api/auth/passkeys/sign-in": False,
}


_TOKEN_HEADER = devices.TOKEN_HEADER.encode()


def presents_a_signed_device(headers: dict[bytes, bytes], signer: devices.DeviceSigner) -> bool:
    """The request carries a device token with this server's signature (maybe rotated out since:
    the route's database check decides whether the device is known)."""
    raw = headers.get(_TOKEN_HEADER)
    token = raw.decode("latin-1") if raw else None
    if token is None and b"cookie" in headers:
        token = cookie_parser(headers[b"cookie"].decode("latin-1")).get(devices.TOKEN_COOKIE)
    return signer.parts(token) is not None


class ThrottledClientGate:
    """Answer 429 to a waiting client address on the gated paths; pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._throttle: Throttle | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        device_may_pass = GATED_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if device_may_pass is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if device_may_pass and presents_a_signed_device(headers, devices.signer_of(scope["app"].state.encryptor)):
            await self.app(scope, receive, send)
            return
        throttle = self._throttle_of(scope)
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = headers.get(b"x-forwarded-for")
        ip = resolve_client_ip(
            peer, forwarded.decode("latin-1") if forwarded else None, throttle.settings.trusted_proxies
        )
        if throttle.shared:  # a network round trip: not on the event loop
            wait = await anyio.to_thread.run_sync(throttle.client_wait, ip)
        else:
            wait = throttle.client_wait(ip)
        if not wait:
            await self.app(scope, receive, send)
            return
        await problem_response(rate_limited(wait), instance=scope["path"])(scope, receive, send)

    def _throttle_of(self, scope: Scope) -> Throttle:
        """The app's counters, made once (the settings and the limiter live as long as the app)."""
        if self._throttle is None:
            self._throttle = throttle_of(scope["app"])
        return self._throttle
