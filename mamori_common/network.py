"""Which address a request really came from.

``X-Forwarded-For`` is believed only as far as the hops in front of us are trusted proxies: we walk
it from the right and stop at the first address that is not one. A client that writes its own
header therefore cannot choose the address our throttles count against.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import ParamSpec, TypeVar

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
P = ParamSpec("P")
T = TypeVar("T")


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


# Parsing an address costs microseconds and every request asks about the same few (its peer, the
# proxies in its chain, a throttled guesser's), so answers are cached by the text asked about.
# The text comes from clients, so the caches are bounded in entries and in what they keep: a call
# with more text than an address chain needs runs uncached, as every call used to.
_CACHED_TEXT = 256


def _cached(function: Callable[P, T]) -> Callable[P, T]:
    cached = lru_cache(maxsize=4096)(function)

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        if sum(len(arg) for arg in args if isinstance(arg, str)) <= _CACHED_TEXT:
            return cached(*args, **kwargs)  # type: ignore[arg-type]
        return function(*args, **kwargs)

    return call


@_cached
def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@_cached
def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    ip = _address(address)
    return ip is not None and any(ip in network for network in parse_networks(trusted))


def is_trusted_proxy(address: str, trusted: Sequence[str]) -> bool:
    """Whether ``address`` is in one of the ``trusted`` networks (a proxy whose headers count)."""
    return _is_trusted(address, tuple(trusted))


def resolve_client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client address: the socket peer, or the first untrusted hop in ``X-Forwarded-For``."""
    return _resolve(peer, forwarded_for, tuple(trusted))


@_cached  # a flood from one client repeats one (peer, X-Forwarded-For) pair
def _resolve(peer: str | None, forwarded_for: str | None, cidrs: tuple[str, ...]) -> str:
    current = peer or "0.0.0.0"
    if not forwarded_for or not _is_trusted(current, cidrs):
        return current
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return current  # a garbled hop: stop believing anything to its left
        current = hop
        if not _is_trusted(hop, cidrs):
            return hop
    return current
