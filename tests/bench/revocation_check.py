"""What refusing ended sessions costs a request, and how long an ending takes to reach each service.

Run: ``.venv/bin/python tests/bench/revocation_check.py [--revoked 100000] [--rounds 3] [--no-deployment]``

1. CPU per request of the check (``mamori_common/revocations.py``, asked by
   ``mamori_common.tokens.require_principal``): ``RevokedSessions.is_revoked`` alone, and the whole
   token check (EdDSA signature, claims, then the lookup) with and without a set holding
   ``--revoked`` ended sessions; the difference is what revocation adds. The budget is 0.2 ms.
   (Auth's ``login`` checks no access token: its path gains no lookup at all, only one more index
   entry for the new session row, ``sessions.revoked_at``.)
2. Auth's CPU while idle, in a ``mamori run`` of the bench's own, answering every replica's pull of ``/internal/revocations``
   (``MAMORI_REVOCATION_PULL_SECONDS``, 0.5 s): a constant cost, whatever the sign-in load.
3. Seconds from ``logout`` and from a staff ``freezeAccount`` answering to the first ``401
   session_revoked`` for the old token at orders (``listOrders``) and at verification
   (``listCases``), each asked directly on its own port, in the same run (``--rounds`` of each). The promise is one second.

Figures, not assertions: on a shared 2-core machine they vary with the load. Not collected by
pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from mamori_common.db import Database  # noqa: E402
from mamori_common.revocations import RevokedSessions  # noqa: E402
from mamori_common.tokens import AUDIENCE, ISSUER, AccessTokenVerifier, require_principal  # noqa: E402
from services.orders.database import revoked_sessions  # noqa: E402

PASSWORD = "quiet-harbour-lantern-58"


def cpu_per_call(work: Callable[[], Any], calls: int) -> float:
    """Microseconds of this process's CPU per call."""
    started = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - started) / calls * 1e6


def measure_the_check(revoked_count: int, calls: int) -> None:
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    verifier = AccessTokenVerifier(lambda _kid: public_key)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "a" * 32, "sid": uuid.uuid4().hex, "iat": now, "exp": now + 600}
    token = jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": "k"})

    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{folder}/bench.db")
        revoked = RevokedSessions(database, revoked_sessions)
        revoked._revoked = {uuid.uuid4().hex: revoked.clock.now() for _ in range(revoked_count)}  # as if loaded
        database.dispose()

    def request_with(revocations: RevokedSessions | None) -> Any:
        state = SimpleNamespace(token_verifier=verifier, revocations=revocations)
        return SimpleNamespace(headers={"authorization": f"Bearer {token}"}, app=SimpleNamespace(state=state))

    with_check, without_check = request_with(revoked), request_with(None)
    sid = str(claims["sid"])
    lookup = cpu_per_call(lambda: revoked.is_revoked(sid), calls * 50)
    for _ in range(200):  # warm up
        require_principal(with_check)
        require_principal(without_check)
    plains, checks = [], []
    for _ in range(15):  # interleaved, so both see the same share of a busy machine
        plains.append(cpu_per_call(lambda: require_principal(without_check), calls))
        checks.append(cpu_per_call(lambda: require_principal(with_check), calls))
    plain, checked = statistics.median(plains), statistics.median(checks)
    print(f"1. The check, {revoked_count:,} ended sessions held in memory")
    print(f"   is_revoked alone:                         {lookup:8.3f} µs CPU per request")
    print(f"   token check without revocations:          {plain:8.1f} µs CPU per request")
    print(f"   token check with revocations:             {checked:8.1f} µs CPU per request")
    added = checked - plain
    print(f"   difference (noise of a shared machine included): {added:+.1f} µs = {added / 1000:+.4f} ms")
    print(f"   added by revocation, at most:             {max(added, lookup) / 1000:8.4f} ms CPU (budget 0.2 ms)")


def _first_refusal(url: str, token: str, started: float, timeout: float = 10.0) -> float:
    headers = {"authorization": f"Bearer {token}"}
    while time.monotonic() - started < timeout:
        answer = httpx.get(url, headers=headers, timeout=5)
        if answer.status_code == 401:
            return time.monotonic() - started
        time.sleep(0.005)
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pulls_served(auth_url: str) -> float:
    text = httpx.get(f"{auth_url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mamori_http_requests_total{") and 'route="/internal/revocations"' in line
    )


def measure_the_pulls_at_auth(auth_pid: int, auth_url: str, seconds: float = 6.0) -> None:
    """Auth's CPU while idle, when all it does is answer the pulls (and poll its own outbox)."""
    cpu, pulls, started = _cpu_seconds(auth_pid), _pulls_served(auth_url), time.monotonic()
    time.sleep(seconds)
    cpu, pulls = _cpu_seconds(auth_pid) - cpu, _pulls_served(auth_url) - pulls
    elapsed = time.monotonic() - started
    print("2. What the pulls cost auth, idle (every replica of orders and verification asks)")
    print(
        f"   {pulls / elapsed:.1f} pulls/s; auth's CPU {cpu / elapsed * 1000:.1f} ms per second "
        f"({cpu / max(pulls, 1) * 1000:.2f} ms per pull at most: its outbox and mail polls are in it too)"
    )


def measure_the_delay(rounds: int) -> None:
    from tests.support.processes import MamoriRun
    from tests.test_system import demo_credentials, demo_totp_secret, operations, sign_in

    with tempfile.TemporaryDirectory() as folder:
        run = MamoriRun(Path(folder) / "var")
        try:
            run.start()
            urls = {child.name: child.url for child in run.children}
            (auth_pid,) = [child.pid for child in run.children if child.name == "auth"]
            time.sleep(3)  # the demo data's mails and events settle
            measure_the_pulls_at_auth(auth_pid, urls["auth"])
            edge = httpx.Client(base_url=run.gateway_url, timeout=30)
            paths = operations(edge.get("/openapi.json").json())

            def call(operation: str, token: str | None = None, args: dict[str, str] | None = None, **kw: Any) -> Any:
                method, path = paths[operation]
                headers = {"authorization": f"Bearer {token}"} if token else {}
                return edge.request(method, path.format(**(args or {})), headers=headers, **kw)

            def customer() -> tuple[str, str]:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                assert call("register", json={"email": email, "password": PASSWORD, "name": "Sora Aoki"}).is_success
                return email, call("login", json={"email": email, "password": PASSWORD}).json()["access_token"]

            admin_email, admin_password = demo_credentials(run)["admin"]
            staff = sign_in(edge, paths, admin_email, admin_password, demo_totp_secret(run, "admin"))  # staff step up
            found: dict[str, dict[str, list[float]]] = {"logout": {}, "freeze": {}}
            requests: dict[str, list[float]] = {}
            for _ in range(rounds):
                for how in ("logout", "freeze"):
                    places = {"orders": "/api/orders/orders", "verification": "/api/verification/cases"}
                    for service, path in places.items():
                        _email, token = customer()
                        assert httpx.get(urls[service] + path, headers={"authorization": f"Bearer {token}"}).is_success
                        if how == "logout":
                            asked = time.monotonic()
                            assert call("logout", token).status_code == 204
                        else:
                            account_id = call("getMe", token).json()["account_id"]
                            asked = time.monotonic()
                            frozen = call("freezeAccount", staff, {"account_id": account_id}, json={"reason": "bench"})
                            assert frozen.status_code == 200, frozen.text
                        answered = time.monotonic()
                        requests.setdefault(how, []).append(answered - asked)
                        found[how].setdefault(service, []).append(_first_refusal(urls[service] + path, token, answered))
            edge.close()
        finally:
            run.close()
    print(f"3. Seconds from the answer to the first 401 for the old token ({rounds} rounds; promise 1 s)")
    for how, seconds in requests.items():
        print(f"   ({how} itself took median {statistics.median(seconds):.3f} s through the edge)")
    for how, per_service in found.items():
        for service, seconds in per_service.items():
            print(
                f"   {how:<7} -> refused at {service:<13} median {statistics.median(seconds):.3f} s, "
                f"max {max(seconds):.3f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revoked", type=int, default=100_000, help="ended sessions held in memory")
    parser.add_argument("--calls", type=int, default=1_000, help="token checks per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="logouts and freezes timed per service")
    parser.add_argument("--no-deployment", action="store_true", help="only the CPU of the check")
    args = parser.parse_args()
    measure_the_check(args.revoked, args.calls)
    if not args.no_deployment:
        measure_the_delay(args.rounds)


if __name__ == "__main__":
    main()
