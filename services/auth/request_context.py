"""Where a request came from: the address, its country, the device and the user agent.

Every domain reads it (the audit trail, risk signals, sessions, notices), so it lives beside the
domains, not inside one of them; ``deps.py`` builds it for each request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

import iptocc


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from: what every audit line and risk decision needs."""

    ip: str
    country: str | None = None
    #: The device's public handle, set only once its server-issued token was recognised
    #: (``signin/devices.py``); never a value the client chose.
    device_id: str | None = None
    user_agent: str | None = None
    #: The device token the client presented, as sent: checked by ``signin/devices.py``, never stored.
    device_token: str | None = field(default=None, repr=False)


#: Changes made by Mamori itself (an event from another service, a timer), not by a request.
SYSTEM = RequestContext(ip="-")


@lru_cache(maxsize=65536)
def country_of(ip: str) -> str | None:
    """ISO 3166 alpha-2 code from the offline database ``iptocc`` ships; None for private,
    loopback and unknown addresses."""
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
