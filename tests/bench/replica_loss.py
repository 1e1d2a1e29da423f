"""Seconds each cross-service flow takes with every replica up, and with replica 0 of every
service killed, in the production shape (2 replicas each, PostgreSQL, Redis).

Run: ``MAMORI_TEST_POSTGRES_URL=postgresql://... MAMORI_TEST_REDIS_URL=redis://.../6
.venv/bin/python tests/bench/replica_loss.py``

It starts ``mamori run --replicas 2`` on fresh databases, runs the flows of
``tests/support/replica_loss.py`` (placeOrder with the standing check, a held payment opening a
case and restricting the account, a freeze cancelling an order) once with everything up, kills
the replica each ``MAMORI_<SERVICE>_URL`` names (the supervisor's restart delay is set beyond
the run, so it stays down), waits for the edge's keep-alive connections to it to expire, and runs
them again. It prints both figures per flow and their ratio; the stall a replica loss causes is
the difference. Figures, not assertions; skipped (exit 0) without PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gateway.nginx import UPSTREAM_KEEPALIVE_SECONDS
from infra.services import DATABASE_SERVICES
from tests.support.postgres import fresh_databases
from tests.support.processes import MamoriRun, is_running
from tests.support.replica_loss import Flows, FlowTimes, first_replicas
from tests.test_system import demo_credentials, demo_totp_secret


def main() -> int:
    admin_url, redis_url = os.environ.get("MAMORI_TEST_POSTGRES_URL"), os.environ.get("MAMORI_TEST_REDIS_URL")
    if not admin_url or not redis_url:
        print("replica_loss: skipped (set MAMORI_TEST_POSTGRES_URL and MAMORI_TEST_REDIS_URL)")
        return 0
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_databases(admin_url, [s.name for s in DATABASE_SERVICES]) as dbs,
    ):
        env = {f"MAMORI_{name.upper()}_DATABASE_URL": url for name, url in dbs.items()}
        env.update({"MAMORI_REDIS_URL": redis_url, "MAMORI_RESTART_FIRST_DELAY_SECONDS": "3600"})
        run = MamoriRun(Path(folder) / "var", ["--replicas", "2"], env)
        try:
            run.start()
            flows = Flows(
                run.gateway_url, dbs["orders"], demo_credentials(run)["admin"], demo_totp_secret(run, "admin")
            )
            try:
                before = flows.run([flows.customer() for _ in range(6)])
                customers = [flows.customer() for _ in range(6)]
                killed = first_replicas(run.children)
                for child in killed.values():
                    os.kill(child.pid, signal.SIGKILL)
                while any(is_running(child.pid) for child in killed.values()):
                    time.sleep(0.05)
                time.sleep(UPSTREAM_KEEPALIVE_SECONDS + 1)
                after = flows.run(customers)
            finally:
                flows.close()
        finally:
            run.close()
    report(before, after, sorted(killed))
    return 0


def report(before: FlowTimes, after: FlowTimes, killed: list[str]) -> None:
    print(f"cores: {os.cpu_count()}; killed replica 0 of: {', '.join(killed)}")
    print(f"{'flow':<45} {'all up s':>9} {'one down s':>11} {'ratio':>7}")
    for name, seconds in before.seconds.items():
        down = after.seconds.get(name)
        if down is None:
            print(f"{name:<45} {seconds:9.2f} {'FAILED':>11}   {after.failures}")
            continue
        print(f"{name:<45} {seconds:9.2f} {down:11.2f} {down / seconds if seconds else 0:7.2f}")
    for name, why in {**before.failures, **after.failures}.items():
        print(f"failure: {name}: {why}")


if __name__ == "__main__":
    sys.exit(main())
