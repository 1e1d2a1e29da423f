"""Which service a path belongs to, and which paths never leave the gateway.

Services mount their routes under their own prefix (auth serves ``/api/auth/login``), so a path
is forwarded unchanged; the portal takes whatever no prefix claims. A prefix matches whole
segments only: ``/api/authority`` is the portal's, not auth's.
"""

from __future__ import annotations

import re

#: The prefix table. The first match wins; the portal takes the rest.
PREFIXES: tuple[tuple[str, str], ...] = (
    ("/api/auth", "auth"),
    ("/api/verification", "verification"),
    ("/api/orders", "orders"),
)
DEFAULT_SERVICE = "portal"

#: Routes the gateway answers itself; every other path is proxied.
OWN_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json", "/docs"})

_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_SLASHES = re.compile(r"/{2,}")


def service_for(path: str) -> str:
    """The service that owns ``path`` (already percent-decoded, as the upstream will see it)."""
    for prefix, service in PREFIXES:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return service
    return DEFAULT_SERVICE


def is_malformed(path: str) -> bool:
    """Dot segments, control characters and backslashes: no browser sends them, and each is a
    way to make the gateway and a service disagree about which route a path names."""
    return not path.startswith("/") or bool(_DOT_SEGMENT.search(path) or _CONTROL.search(path))


def is_internal(path: str) -> bool:
    """``/internal/...`` routes are service-to-service only (events, for one).

    Checked on the decoded path with repeated slashes collapsed and case ignored, so neither
    ``/%69nternal`` nor ``//Internal`` slips through.
    """
    first = _SLASHES.sub("/", path).lstrip("/").split("/", 1)[0]
    return first.lower() == "internal"
