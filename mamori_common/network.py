"""Which address a request really came from.

``X-Forwarded-For`` is believed only as far as the hops in front of us are trusted proxies: we walk
it from the right and stop at the first address that is not one. A client that writes its own
header therefore cannot choose the address our throttles count against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


# Parsing an address costs microseconds and every request asks about the same few (its peer, the
# proxies in its chain, a throttled guesser's), so answers are cached by the text asked about;
# the caches are bounded, and an address nobody saw before costs what it always did.


@lru_cache(maxsize=4096)
def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    ip = _address(address)
    return ip is not None and any(ip in network for network in parse_networks(trusted))


def is_trusted_proxy(address: str, trusted: Sequence[str]) -> bool:
    """Whether ``address`` is in one of the ``trusted`` networks (a proxy whose headers count)."""
    return _is_trusted(address, tuple(trusted))


def resolve_client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client address: the socket peer, or the first untrusted hop in ``X-Forwarded-For``."""
    cidrs = tuple(trusted)
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
