"""Sign-in and case-page throughput and p95, with one and with two replicas of every service.

Run: ``MAMORI_TEST_POSTGRES_URL=postgresql://... MAMORI_TEST_REDIS_URL=redis://.../6
.venv/bin/python tests/bench/replica_throughput.py [--seconds 10] [--concurrency 6]``

For each shape it starts ``mamori run [--replicas 2]`` on fresh PostgreSQL databases and Redis,
gives every concurrent client its own customer and address (``X-Forwarded-For``, believed from
loopback, as a load balancer's), then for ``--seconds``: ``login`` with the right password back to
back, and the portal's case page (each customer's held gift-card order opened a case; signed in
through the portal's form) back to back. It prints requests/s and p95 per shape and the ratio of
the two shapes. Figures, not assertions: on a shared 2-core machine the load generator and every
replica share the cores (printed), so a second replica adds no CPU; what it shows is what the
spreading costs or gains. Skipped (exit 0) without PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.services import DATABASE_SERVICES
from tests.support.postgres import emptied_redis, fresh_databases
from tests.support.processes import MamoriRun

PASSWORD = "quiet-harbour-lantern-58"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CARD = {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": "Bench Sato"}


def prepare(gateway: str, index: int) -> tuple[httpx.Client, httpx.Client, str, str]:
    """One customer with a case: (api client, portal browser, e-mail, case id)."""
    address = {"x-forwarded-for": f"198.51.100.{10 + index}"}
    api = httpx.Client(base_url=gateway, headers=address, timeout=30)
    browser = httpx.Client(base_url=gateway, headers={**address, "accept": "text/html"}, timeout=30)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    api.post("/api/auth/accounts", json={"email": email, "password": PASSWORD, "name": "Bench Sato"}).raise_for_status()
    # The portal first: a sign-in from a device the account has just met, at its first address.
    csrf = CSRF.search(browser.get("/signin").text)
    assert csrf is not None
    form = {"email": email, "password": PASSWORD, "next": "/account", "csrf_token": csrf.group(1)}
    signed_in = browser.post("/signin", data=form)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account", signed_in.headers
    token = api.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    line = {"kind": "gift_card", "description": "Gift card", "unit_amount": 100_000}
    order = {"lines": [line], "tenders": [{"kind": "card", "amount": 100_000, "card": CARD}]}
    api.post("/api/orders/orders", json=order, headers=bearer).raise_for_status()
    case_id = ""
    for _ in range(100):
        items = api.get("/api/verification/cases", headers=bearer).json()["items"]
        if items:
            case_id = items[0]["id"]
            break
        time.sleep(0.1)
    assert case_id, "the held order opened a case"
    return api, browser, email, case_id


#: Requests per second, p95 in milliseconds, answers other than 200.
Figures = tuple[float, float, int]


def load(calls: list[Callable[[], httpx.Response]], seconds: float) -> Figures:
    """(requests/s, p95 ms, failures) of every call run back to back in its own thread."""
    timings: list[float] = []
    failures = [0]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(call: Callable[[], httpx.Response]) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = call().status_code
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)
                failures[0] += status != 200
                if status != 200:
                    statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(timings)
    if statuses:
        print(f"   answers other than 200: {statuses}", flush=True)
    return len(ordered) / seconds, ordered[int(0.95 * (len(ordered) - 1))], failures[0]


def measure(replicas: int, seconds: float, concurrency: int, admin_url: str, redis_url: str) -> dict[str, Figures]:
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_databases(admin_url, [s.name for s in DATABASE_SERVICES]) as dbs,
    ):
        env = {f"MAMORI_{name.upper()}_DATABASE_URL": url for name, url in dbs.items()}
        env["MAMORI_REDIS_URL"] = emptied_redis(redis_url)  # the shape before left its addresses' quotas
        run = MamoriRun(Path(folder) / "var", ["--no-demo", "--replicas", str(replicas)], env)
        try:
            run.start()
            customers = [prepare(run.gateway_url, index) for index in range(concurrency)]
            logins: list[Callable[[], httpx.Response]] = [
                partial(api.post, "/api/auth/login", json={"email": email, "password": PASSWORD})
                for api, _, email, _ in customers
            ]
            pages: list[Callable[[], httpx.Response]] = [
                partial(browser.get, f"/cases/{case}") for _, browser, _, case in customers
            ]
            return {"login": load(logins, seconds), "case page": load(pages, seconds)}
        finally:
            run.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=6)
    args = parser.parse_args()
    admin_url, redis_url = os.environ.get("MAMORI_TEST_POSTGRES_URL"), os.environ.get("MAMORI_TEST_REDIS_URL")
    if not admin_url or not redis_url:
        print("replica_throughput: skipped (set MAMORI_TEST_POSTGRES_URL and MAMORI_TEST_REDIS_URL)")
        return 0
    shapes = {replicas: measure(replicas, args.seconds, args.concurrency, admin_url, redis_url) for replicas in (1, 2)}
    print(f"cores: {os.cpu_count()}; {args.concurrency} concurrent clients, {args.seconds:.0f} s each")
    print(f"{'what':<11} {'replicas':>8} {'req/s':>8} {'p95 ms':>8} {'failed':>7}")
    for what in ("login", "case page"):
        for replicas, figures in shapes.items():
            rate, p95, failed = figures[what]
            print(f"{what:<11} {replicas:>8} {rate:8.1f} {p95:8.0f} {failed:7}")
        one, two = shapes[1][what], shapes[2][what]
        print(f"{what:<11} {'2 vs 1':>8} {two[0] / one[0]:7.2f}x {two[1] / one[1]:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
