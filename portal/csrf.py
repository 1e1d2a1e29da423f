"""CSRF tokens on every form (OWASP's signed double-submit cookie).

The browser holds a random seed in an HttpOnly cookie; every form carries an HMAC of that seed
under the portal's own CSRF key
(``MAMORI_PORTAL_CSRF_KEY``), which signs nothing else. A forged form from another site can make the browser send the cookie
(on a top-level GET at most, as it is SameSite=Lax) but cannot read it, so it cannot write the
matching field. Seed and field are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CSRF_COOKIE = "mamori_csrf"
CSRF_FIELD = "csrf_token"


def new_seed() -> str:
    return secrets.token_urlsafe(32)


def form_token(secret: str, seed: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


def is_valid(secret: str, seed: str | None, presented: str | None) -> bool:
    if not seed or not presented:
        return False
    return hmac.compare_digest(form_token(secret, seed), presented)
