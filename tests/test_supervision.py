"""``mamori run`` keeps going when one of its processes dies (``infra/supervisor.py``).

It used to stop the whole suite when a single service exited. Now the killed process is started
again after a backoff, the log says which one exited and when it is back, the suite answers
again on its own, and Ctrl-C (SIGTERM here) still stops everything, the restarted child included.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from infra.supervisor import RestartSettings, Supervised, Supervisor
from tests.support.processes import MamoriRun, is_running, uvicorn_children
from tests.support.servers import wait_until


class FakeProcess:
    """Stands in for a ``Popen``: alive until ``exit`` is called."""

    pid = 4242

    def __init__(self) -> None:
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def exit(self, code: int) -> None:
        self.returncode = code


def test_a_crashing_child_is_restarted_with_doubling_delays_and_said_on_the_log() -> None:
    now = [0.0]
    started: list[FakeProcess] = []

    def respawn() -> subprocess.Popen[bytes]:
        started.append(FakeProcess())
        return started[-1]  # type: ignore[return-value]

    first = FakeProcess()
    child = Supervised("orders", "http://127.0.0.1:9", first, respawn)  # type: ignore[arg-type]
    lines: list[str] = []
    supervisor = Supervisor(
        [child], lines.append, RestartSettings(first_delay_seconds=1, max_delay_seconds=4, stable_seconds=60),
        clock=lambda: now[0],
    )  # fmt: skip
    waits = []
    for _ in range(4):
        child.process.exit(-9)  # type: ignore[attr-defined]
        supervisor.check()
        crashed_at = now[0]
        while child.restart_at is not None:
            now[0] += 0.25
            supervisor.check()
        waits.append(now[0] - crashed_at)
    assert waits == [1, 2, 4, 4], "each crash in a row waits twice as long, up to the maximum"
    assert len(started) == 4
    assert "orders (http://127.0.0.1:9) exited with code -9; restarting it in 1.0s" in lines[0]
    assert lines[1] == "orders (http://127.0.0.1:9) restarted (pid 4242)"
    # Up for a minute: the next crash waits the first delay again.
    now[0] += 61
    supervisor.check()
    child.process.exit(1)  # type: ignore[attr-defined]
    supervisor.check()
    assert "restarting it in 1.0s" in lines[-1]


@pytest.mark.system
def test_a_killed_service_is_restarted_and_the_suite_keeps_running(tmp_path: Path) -> None:
    run = MamoriRun(tmp_path / "var", ["--no-demo"])
    try:
        run.start()
        assert run.process is not None
        orders = next(child for child in run.children if child.name == "orders")
        os.kill(orders.pid, signal.SIGKILL)

        run.wait_for_output(f"orders ({orders.url}) exited with code -9; restarting it in", 15)
        run.wait_for_output(f"orders ({orders.url}) restarted", 15)
        assert run.process.poll() is None, "the suite is still running"

        def orders_answers() -> bool:
            try:
                return httpx.get(f"{run.gateway_url}/healthz", timeout=3).json()["services"]["orders"]["status"] == "up"
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_until(orders_answers, timeout=60, interval=0.5, what="orders up again behind the edge")
        restarted = [child for child in uvicorn_children(run.process.pid) if child.name == "orders"]
        assert [child.port for child in restarted] == [orders.port] and restarted[0].pid != orders.pid

        everything = uvicorn_children(run.process.pid)
        assert run.terminate() == 0, run.transcript()
        assert not [child for child in everything if is_running(child.pid)], "Ctrl-C still stops every child"
    finally:
        run.close()
