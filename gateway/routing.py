"""The one route table both edges are made from, and the rules that read it.

The Python gateway (:mod:`gateway.proxy`) routes with it, and ``mamori edge nginx-config``
(:mod:`gateway.nginx`) renders an nginx configuration from it, so the two edges cannot disagree
about which service owns a path, which paths never leave the edge, how large a body may be or
how long a service may take.

Services mount their routes under their own prefix (auth serves ``/api/auth/login``), so a path
is forwarded unchanged; the portal takes whatever no prefix claims. A prefix matches whole
segments only: ``/api/authority`` is the portal's, not auth's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mamori_common.front_door import JSON_BODY_LIMIT, LARGER_JSON_BODIES, UPLOAD_BODY_LIMIT

# Every body is capped at JSON_BODY_LIMIT (64 KB: JSON requests and forms are small, and a larger
# one is an attack on the parser) but on the paths of LARGE_BODIES below: a document upload
# (10 MB, through the API or the portal's case page), a pasted mail. The services apply the same limits themselves
# (mamori_common/front_door.py).


@dataclass(frozen=True)
class Route:
    """Public paths (``path``: a prefix of whole segments) and what the edge allows on them."""

    path: str
    service: str
    #: Largest request body, in bytes (``413 body_too_large`` above it).
    max_body: int = JSON_BODY_LIMIT
    #: Seconds to wait for the service's answer (and for each read after the first byte).
    read_timeout: float = 30.0

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) and (len(path) == len(self.path) or path[len(self.path)] == "/")


@dataclass(frozen=True)
class LargeBodyRoute(Route):
    """Paths (``path``: a regular expression over the whole path) that take more than a form's
    worth; a 10 MB upload on a slow line, and its scan, take longer than a JSON call."""

    max_body: int = UPLOAD_BODY_LIMIT
    read_timeout: float = 120.0
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.path))  # compiled once, matched per request

    def matches(self, path: str) -> bool:
        return self.pattern.fullmatch(path) is not None


#: Prefixes, first match wins; the portal takes the rest.
ROUTES: tuple[Route, ...] = (
    Route("/api/auth", "auth"),
    Route("/api/verification", "verification"),
    Route("/api/orders", "orders"),
)
#: Checked before the prefixes (they only raise the body limit and the timeout).
LARGE_BODIES: tuple[LargeBodyRoute, ...] = (
    LargeBodyRoute(r"/api/verification/cases/[^/]+/documents", "verification"),
    # The portal's upload form (portal/pages/cases.py) posts the same file to the portal first.
    LargeBodyRoute(r"/cases/[^/]+/documents", "portal"),
    *(LargeBodyRoute(re.escape(path), "auth", limit, 30.0) for path, limit in LARGER_JSON_BODIES.items()),
)
DEFAULT_ROUTE = Route("/", "portal")
DEFAULT_SERVICE = DEFAULT_ROUTE.service

#: Routes the Python gateway app answers itself, behind either edge.
OWN_PATHS = frozenset({"/healthz", "/openapi.json", "/docs"})
#: First path segments no edge forwards: service-to-service calls and each process's metrics.
REFUSED_SEGMENTS = frozenset({"internal", "metrics"})
#: Where a guesser starts; nginx keeps a coarse per-address request rate on these and leaves
#: every finer decision (per account, per failure) to auth.
SIGN_IN_PATHS: tuple[str, ...] = (
    "/api/auth/login",
    "/api/auth/challenges/complete",
    "/api/auth/unlock/code",
    "/api/auth/unlock",
    "/api/auth/passkeys/sign-in/options",
    "/api/auth/passkeys/sign-in",
)
#: nginx's per-address sign-in rate (requests per second per address) and burst.
SIGN_IN_RATE_PER_SECOND = 10
SIGN_IN_BURST = 20

#: Seconds to open a TCP connection to a replica.
CONNECT_TIMEOUT = 2.0

#: A dot segment, a control character or a backslash, in one pass.
_MALFORMED = re.compile(r"(^|/)\.{1,2}(/|$)|[\x00-\x1f\x7f\\]")


def route_for(path: str) -> Route:
    """The route ``path`` (percent-decoded, as the upstream will see it) belongs to."""
    for large in LARGE_BODIES:
        if large.matches(path):
            return large
    for route in ROUTES:
        if route.matches(path):
            return route
    return DEFAULT_ROUTE


def service_for(path: str) -> str:
    """The service that owns ``path``."""
    return route_for(path).service


def is_malformed(path: str) -> bool:
    """Dot segments, control characters and backslashes: no browser sends them, and each is a
    way to make the edge and a service disagree about which route a path names."""
    return not path.startswith("/") or _MALFORMED.search(path) is not None


def is_refused(path: str) -> bool:
    """``/internal/...`` (service-to-service only) and ``/metrics`` never leave the edge.

    Checked on the decoded path with repeated slashes collapsed and case ignored, so neither
    ``/%69nternal`` nor ``//Internal`` slips through.
    """
    first = path.lstrip("/").partition("/")[0]  # repeated slashes further on cannot change it
    return first.lower() in REFUSED_SEGMENTS


def is_internal(path: str) -> bool:
    """Kept for readers of the older name: a refused path."""
    return is_refused(path)
