"""A request body must be what its route declares, or the answer is a problem before any route runs.

FastAPI alone turns a wrong ``Content-Type`` into a 422 about the body's fields (it hands the
route the raw bytes), and a JSON document nested a thousand levels deep, or bytes that are not
UTF-8, into a bare ``400 bad_request``. What the contract says instead:

- a route that takes JSON accepts ``application/json`` (or ``application/*+json``) only; a route
  that takes a form or a file accepts ``multipart/form-data`` or
  ``application/x-www-form-urlencoded`` only. Any other type: ``415 unsupported_media_type``;
- a JSON body that does not parse, is not UTF-8, or nests deeper than :data:`MAX_JSON_DEPTH`:
  ``400 malformed_body`` (no Mamori body nests more than a few levels; a deep one is only an
  attack on the parser and on every recursive walk after it).

Only requests that carry a body pay for the route lookup and the parse; the body is at most the
front door's limit (``front_door.py`` runs first), and is replayed to the app unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori_common.problems import Problem, problem_response
from mamori_common.route_shapes import BodyKind, shapes_for_path

MAX_JSON_DEPTH = 32
JSON_TYPES = ("application/json",)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
MALFORMED_BODY = Problem(400, "malformed_body", "The request body is not valid JSON.")
TOO_DEEP = Problem(400, "malformed_body", f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")


def media_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The request's ``Content-Type`` without parameters, lower case (None when absent)."""
    for name, value in headers:
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def is_json_type(media: str) -> bool:
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def too_deep(document: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``document`` nests arrays and objects more than ``limit`` levels (iterative: a deep
    document must not cost a deep Python stack to measure)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_problem(body: bytes) -> Problem | None:
    """Why ``body`` is no JSON document a route may read (None when it is one)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return MALFORMED_BODY
    # Counting brackets is cheap; only a body with many of them is walked.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and too_deep(document):
        return TOO_DEEP
    return None


def _body_kind(scope: Scope) -> BodyKind:
    """What the route for this request reads: the first route whose path and method match."""
    for shape in shapes_for_path(scope.get("app"), scope["path"]):
        if scope["method"] in shape.methods:
            return shape.body
    return None


class RequestBodyMiddleware:
    """415 for a body of the wrong type, 400 ``malformed_body`` for JSON that cannot be read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not declares_body(scope["headers"]):
            await self.app(scope, receive, send)
            return
        kind = _body_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        media = media_type(scope["headers"]) or ""
        allowed = is_json_type(media) if kind == "json" else media in FORM_TYPES
        if not allowed:
            wanted = "application/json" if kind == "json" else " or ".join(FORM_TYPES)
            problem = Problem(415, UNSUPPORTED_MEDIA_TYPE, f"This path takes {wanted}, not {media or 'no type'}.")
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        if kind == "form":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        failure = json_problem(body) if body else None
        if failure is not None:
            await problem_response(failure, scope["path"])(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
