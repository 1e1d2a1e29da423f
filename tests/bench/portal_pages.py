"""What a portal page costs on top of the API calls it is drawn from.

Run: ``.venv/bin/python tests/bench/portal_pages.py [--requests 200]``

It starts the whole suite with ``mamori run`` (its own data dir and port), registers a customer,
signs in through the portal's form, and then, one request at a time, loads each page and makes
the API calls that page is drawn from (with a bearer token, through the same gateway). It prints
p50/p95 of each and the ratio page / API calls: what rendering, the session lookup and the extra
hop cost. Figures, not assertions: on a shared 2-core machine they move with the neighbours'
load. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.processes import MamoriRun  # noqa: E402

PASSWORD = "steady-harbour-lantern-90"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def timings(call: Callable[[], httpx.Response], count: int) -> list[float]:
    for _ in range(10):  # warm-up: connections, template compilation, caches
        call()
    found = []
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        found.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    run = MamoriRun(Path(tempfile.mkdtemp(prefix="mamori-bench-")) / "var", args=["--no-demo"])
    try:
        run.start()
        browser = httpx.Client(base_url=run.gateway_url, headers={"accept": "text/html"})
        api = httpx.Client(base_url=run.gateway_url)
        address = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        api.post(
            "/api/auth/accounts", json={"email": address, "password": PASSWORD, "name": "Bench", "language": "ja"}
        ).raise_for_status()
        token = CSRF.search(browser.get("/signin").text)
        assert token is not None
        signed = browser.post(
            "/signin", data={"email": address, "password": PASSWORD, "next": "/account", "csrf_token": token.group(1)}
        )
        assert signed.status_code == 303, signed.status_code
        login = api.post("/api/auth/login", json={"email": address, "password": PASSWORD}).json()
        bearer = {"authorization": f"Bearer {login['access_token']}"}

        pairs = {
            "/account": (lambda: browser.get("/account"), [lambda: api.get("/api/auth/me", headers=bearer)]),
            "/messages": (
                lambda: browser.get("/messages"),
                [lambda: api.get("/api/auth/messages", headers=bearer, params={"limit": 20})],
            ),
            "/security/sessions": (
                lambda: browser.get("/security/sessions"),
                [lambda: api.get("/api/auth/sessions", headers=bearer)],
            ),
        }
        print(f"{'page':22} {'page p50':>9} {'page p95':>9} {'api p50':>8} {'api p95':>8} {'p50 ratio':>10}")
        for name, (page, calls) in pairs.items():
            page_times = timings(page, args.requests)
            api_times = [sum(parts) for parts in zip(*(timings(call, args.requests) for call in calls), strict=False)]
            ratio = statistics.median(page_times) / statistics.median(api_times)
            print(
                f"{name:22} {statistics.median(page_times):8.1f}ms {percentile(page_times, 0.95):8.1f}ms "
                f"{statistics.median(api_times):7.1f}ms {percentile(api_times, 0.95):7.1f}ms {ratio:9.2f}x"
            )
    finally:
        run.close()


if __name__ == "__main__":
    main()
