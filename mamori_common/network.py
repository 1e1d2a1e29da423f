"""Which address a request really came from.

``X-Forwarded-For`` is believed only as far as the hops in front of us are trusted proxies: we walk
it from the right and stop at the first address that is not one. A client that writes its own
header therefore cannot choose the address our throttles count against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def is_trusted_proxy(address: str, trusted: Sequence[str]) -> bool:
    """Whether ``address`` is in one of the ``trusted`` networks (a proxy whose headers count)."""
    return _is_trusted(address, parse_networks(tuple(trusted)))


def resolve_client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client address: the socket peer, or the first untrusted hop in ``X-Forwarded-For``."""
    networks = parse_networks(tuple(trusted))
    current = peer or "0.0.0.0"
    if not forwarded_for or not _is_trusted(current, networks):
        return current
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current  # a garbled hop: stop believing anything to its left
        current = hop
        if not _is_trusted(hop, networks):
            return hop
    return current
