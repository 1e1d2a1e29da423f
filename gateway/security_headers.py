"""The security headers every answer leaves the gateway with.

They are set here, once, rather than in each service, so no service can forget one. A header the
upstream already set is left as it is: a service that needs a different policy for a page (a
nonce-based CSP, say) sets it itself and the gateway does not overwrite it.

``/docs`` gets a looser Content-Security-Policy, because Swagger UI loads its script and styles
from a CDN and starts with one inline script; that script is allowed by its hash, not by
``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import hashlib
import re

Headers = list[tuple[bytes, bytes]]

SWAGGER_CDN = "https://cdn.jsdelivr.net"
SWAGGER_FAVICON_HOST = "https://fastapi.tiangolo.com"

DEFAULT_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
HSTS = "max-age=63072000; includeSubDomains"

#: Every answer gets these (both edges: :mod:`gateway.nginx` renders the same list).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
    ("cross-origin-opener-policy", "same-origin"),
)
_COMMON = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(page: str) -> str:
    """The policy for the Swagger UI page ``page``: its CDN, plus the hash of each inline script."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self' {SWAGGER_CDN} {hashes}; "
        f"style-src 'self' {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: {SWAGGER_FAVICON_HOST}; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """Adds the headers a response lacks; built once, applied to every response."""

    def __init__(self, docs_path: str, docs_policy: str) -> None:
        self.docs_path = docs_path
        self._default = (*_COMMON, (b"content-security-policy", DEFAULT_CSP.encode()))
        self._docs = (*_COMMON, (b"content-security-policy", docs_policy.encode()))

    def apply(self, headers: Headers, path: str, https: bool) -> Headers:
        wanted = self._docs if path == self.docs_path else self._default
        present = {name.lower() for name, _ in headers}
        headers.extend(header for header in wanted if header[0] not in present)
        if https and b"strict-transport-security" not in present:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers
