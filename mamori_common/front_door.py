"""Two rules every service applies to a request before any route sees it.

- **Bodies are capped before they are parsed.** A JSON body (anything but a multipart upload)
  may be 64 KB; a 5 MB JSON body would otherwise be read whole and parsed by ``login`` for
  seconds of CPU. Uploads (``multipart/form-data``) may be 10 MB, and the few paths in
  :data:`LARGER_JSON_BODIES` take more (a pasted mail for ``verifyMessage``). A larger body gets
  ``413 body_too_large``: at once when its ``Content-Length`` says so, or as soon as a chunked
  body grows past the limit, whatever the route would have answered. The edges apply the same
  limits per route (gateway/routing.py); this is the service's own guard behind them.
- **HEAD answers like GET without a body**, on every route that answers GET (FastAPI routes
  take GET only, so ``HEAD /`` was a 405 where ``GET /`` is a 200).

Pure ASGI, so a streamed answer passes through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori_common.problems import Problem, problem_response

JSON_BODY_LIMIT = 64 * 1024
#: A 10 MB file plus its multipart envelope (boundaries, part headers): the file's own 10 MB limit
#: is the service's to judge, with the more telling ``file_too_large``; this bound only stops a
#: body that no accepted upload could be.
UPLOAD_FILE_LIMIT = 10 * 1024 * 1024
UPLOAD_BODY_LIMIT = UPLOAD_FILE_LIMIT + 64 * 1024
#: JSON paths that carry more than a form's worth: a whole mail pasted into ``verifyMessage``
#: (auth checks its own text limit, 100,000 bytes, after parsing; JSON escapes can double it).
#: The edges read this too (gateway/routing.py), so the three limits agree everywhere.
LARGER_JSON_BODIES: dict[str, int] = {"/api/auth/messages/verify": 1024 * 1024}

BODY_TOO_LARGE = Problem(413, "body_too_large", "The request body is larger than this path accepts.")


class _BodyTooLarge(Exception):
    pass


def body_limit(
    path: str, headers: list[tuple[bytes, bytes]], json_limit: int, upload_limit: int
) -> tuple[int, int | None]:
    """(the limit for this request's body, the length it declares, if any)."""
    limit = LARGER_JSON_BODIES.get(path, json_limit)
    declared = None
    for name, value in headers:
        if name == b"content-type" and value.lower().startswith(b"multipart/form-data"):
            limit = upload_limit
        elif name == b"content-length" and value.strip().isdigit():
            declared = int(value)
    return limit, declared


class FrontDoorMiddleware:
    def __init__(self, app: ASGIApp, json_limit: int = JSON_BODY_LIMIT, upload_limit: int = UPLOAD_BODY_LIMIT) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, declared = body_limit(scope["path"], scope["headers"], self.json_limit, self.upload_limit)
        if declared is not None and declared > limit:
            await problem_response(BODY_TOO_LARGE, scope["path"])(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, counting the body as it is read; past ``limit`` the answer is a 413,
        whatever the app makes of the broken read."""
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the app's answer to the broken read; the 413 goes out instead
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:  # _BodyTooLarge, or whatever the app made of it
            if not too_large:
                raise
        if too_large and not started:
            await problem_response(BODY_TOO_LARGE, scope["path"])(scope, receive, send)


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head
