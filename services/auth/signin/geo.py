"""Country of an IP address, from the offline database the ``iptocc`` package ships."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import iptocc


@lru_cache(maxsize=65536)
def country_of(ip: str) -> str | None:
    """ISO 3166 alpha-2 code, or None for private, loopback and unknown addresses."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
        return None
    try:
        code = iptocc.country_code(ip)
    except Exception:  # the package raises on addresses it has no range for
        return None
    return code or None
