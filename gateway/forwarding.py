"""The headers that cross the gateway, in each direction.

Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and are never forwarded, nor is any
header the ``Connection`` header names. ``X-Forwarded-*`` and friends are rebuilt by the gateway:
from an untrusted peer they are dropped, from a trusted proxy the chain is extended.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.clients import ClientContext, join_hops

Headers = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"expect"})
#: What a client could write to pass as someone else; believed only from a trusted proxy.
_CLIENT_IDENTITY = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-real-ip"}
)
#: Rebuilt by the gateway for every request.
_REBUILT = frozenset({b"host", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
#: Set by the gateway's own server on the way out; the upstream's copies would be duplicates.
_RESPONSE_REBUILT = frozenset({b"x-request-id", b"date", b"server"})


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return frozenset(tokens)


def _is_hop_by_hop(name: bytes, named: frozenset[bytes]) -> bool:
    return name in HOP_BY_HOP or name.startswith(b"proxy-") or name in named


def request_headers(incoming: Headers, context: ClientContext) -> Headers:
    """The headers to send upstream for a request the gateway received."""
    named = _connection_tokens(incoming)
    forwarded_for = b""
    forwarded_host = b""
    host = b""
    outgoing: Headers = []
    for name, value in incoming:  # ASGI servers hand over lower-case names
        if _is_hop_by_hop(name, named):
            continue
        if name in _REBUILT or name in _CLIENT_IDENTITY:
            if name == b"host":
                host = value
            elif context.trusted_peer:
                if name == b"x-forwarded-for":
                    forwarded_for = join_hops(forwarded_for, value)
                elif name == b"x-forwarded-host":
                    forwarded_host = forwarded_host or value
                elif name not in _REBUILT:  # forwarded, x-real-ip
                    outgoing.append((name, value))
            continue
        outgoing.append((name, value))
    peer = context.peer.encode("latin-1")
    outgoing.append((b"x-forwarded-for", join_hops(forwarded_for, peer)))
    outgoing.append((b"x-forwarded-proto", b"https" if context.https else b"http"))
    if forwarded_host or host:
        outgoing.append((b"x-forwarded-host", forwarded_host or host))
    outgoing.append((b"x-request-id", context.request_id.encode("latin-1")))
    return outgoing


def response_headers(upstream: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The headers to send the client for an upstream's answer (names lower-cased, for ASGI)."""
    raw = [(name.lower(), value) for name, value in upstream]
    named = _connection_tokens(raw)
    return [(name, value) for name, value in raw if not _is_hop_by_hop(name, named) and name not in _RESPONSE_REBUILT]


def declared_length(headers: Headers) -> int | None:
    """The request's ``Content-Length``, when it declares one (uvicorn has checked its form)."""
    for name, value in headers:
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


def has_body(headers: Headers) -> bool:
    """Whether the request carries a body the upstream must receive."""
    for name, value in headers:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
    return False
