"""Which relying party id and origins a browser would ever send a passkey ceremony from.

The settings run this when they load (:class:`~services.auth.config.AuthSettings`), so a
misconfiguration is refused at start, not at the first customer's ceremony; why each rule holds is
in :mod:`.policy`. It imports nothing of auth: the settings depend on it, and the passkey rules
depend on the settings, never the other way round.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def relying_party_problems(rp_id: str, origins: list[str]) -> list[str]:
    """What is wrong with this rp id and these origins (empty: nothing)."""
    problems: list[str] = []
    host = rp_id.strip().lower()
    if not host or host != rp_id or "/" in host or (":" in host and not _is_ip(host)):
        problems.append(f"passkey rp id {rp_id!r} must be a bare domain name (no scheme, port or path)")
    elif _is_ip(host):
        problems.append(f"passkey rp id {rp_id!r} is an IP address, which browsers refuse: use a domain (localhost)")
    if not origins:
        problems.append("at least one passkey origin is needed")
    for origin in origins:
        parts = urlsplit(origin)
        name = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not name or parts.path not in ("", "/") or parts.query:
            problems.append(f"passkey origin {origin!r} must be scheme://host[:port]")
            continue
        if parts.scheme == "http" and name != "localhost" and not name.endswith(".localhost"):
            problems.append(f"passkey origin {origin!r} must use https (plain http only for localhost)")
        if problems and problems[0].startswith("passkey rp id"):
            continue
        if name != host and not name.endswith("." + host):
            problems.append(f"passkey origin {origin!r} is not on the rp id {rp_id!r} or a subdomain of it")
    return problems


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
