"""What the gateway believes about the peer that sent a request.

Only a trusted proxy (``MAMORI_TRUSTED_PROXIES``: a load balancer in front of the gateway) may
tell us the client's address, the scheme it used or its request id. Anyone else could write
those headers to dodge a throttle, forge log lines or fake HTTPS, so theirs are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

from starlette.types import Scope

from mamori_common.network import is_trusted_proxy, resolve_client_ip
from mamori_common.observability import accepted_request_id, new_request_id

SCOPE_KEY = "mamori.client"


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    return is_trusted_proxy(address, trusted)


def join_hops(chain: bytes, hop: bytes) -> bytes:
    """``X-Forwarded-For`` grown by one hop, in the one format both edges write (``a, b``)."""
    return chain + b", " + hop if chain else hop


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Decided once per request by the outer middleware, read by the proxy and the routes."""

    peer: str
    trusted_peer: bool
    client_ip: str
    https: bool
    request_id: str


class TrustedProxies:
    """Answers "is this peer a trusted proxy?" for the configured networks, with a small cache
    because a deployment sees the same few peers (its load balancers) over and over."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        self.cidrs = tuple(cidrs)
        self.is_trusted = lru_cache(maxsize=1024)(partial(_trusted, trusted=self.cidrs))

    def context(self, scope: Scope, headers: Sequence[tuple[bytes, bytes]]) -> ClientContext:
        client = scope.get("client")
        peer = client[0] if client else ""
        trusted = bool(peer) and self.is_trusted(peer)
        request_id: str | None = None
        forwarded_for = b""
        https = scope.get("scheme") == "https"
        if trusted:
            for name, value in headers:
                if name == b"x-request-id":
                    request_id = accepted_request_id(value.decode("latin-1"))
                elif name == b"x-forwarded-for":
                    forwarded_for = join_hops(forwarded_for, value)
                elif name == b"x-forwarded-proto":
                    https = value.decode("latin-1").split(",")[0].strip().lower() == "https"
        client_ip = (
            resolve_client_ip(peer or None, forwarded_for.decode("latin-1"), self.cidrs)
            if forwarded_for
            else (peer or "0.0.0.0")
        )
        return ClientContext(peer, trusted, client_ip, https, request_id or new_request_id())
