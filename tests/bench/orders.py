"""Orders placed per second (with the account-standing call and risk evaluation) and refunds per
second, through the gateway, with the same run's bare-upstream hop figure beside them.

Run: ``.venv/bin/python tests/bench/orders.py [--seconds 5] [--concurrency 8]``

It starts the whole suite as ``mamori run`` does (auth, verification, orders, portal, gateway; a
data dir of its own, SQLite), registers a customer and signs in, then for ``--seconds`` places
orders (one 1,000-yen physical line paid by card: the standing call to auth, the risk rules, a
sandbox authorisation and capture) from ``--concurrency`` clients at once, first straight to the
orders process and then through the gateway; then cancels the orders placed through the gateway
(each a refund split by tender, the card part carried out with the provider). Last, the same
machine's bare hop: a trivial upstream straight and through the gateway (``gateway_hop.py``'s
upstream and load generator), so
the orders figures can be read against what the gateway alone costs on this run.

Figures, not assertions; not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import gateway_hop  # noqa: E402
from tests.support.processes import MamoriRun  # noqa: E402

PASSWORD = "quiet-harbour-lantern-58"
NAME = "Bench Customer"
ORDER = {
    "lines": [{"kind": "physical", "description": "Bench item", "unit_amount": 1_000}],
    "tenders": [
        {
            "kind": "card",
            "amount": 1_000,
            "card": {"token": "tok_visa_4242", "last4": "4242", "expiry": "04/29", "holder_name": NAME},
        }
    ],
}


async def _drive(
    base_url: str,
    token: str,
    concurrency: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
) -> tuple[int, int, list[float], list[httpx.Response]]:
    """``concurrency`` clients sending back to back for ``seconds``; (done, errors, latencies, responses)."""
    headers = {"authorization": f"Bearer {token}"}
    latencies: list[float] = []
    responses: list[httpx.Response] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await request(client)
                if response.status_code >= 300:
                    errors += 1
                else:
                    latencies.append(time.perf_counter() - started)
                    responses.append(response)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), errors, latencies, responses


async def _cancel_all(
    base_url: str, token: str, order_ids: list[str], concurrency: int
) -> tuple[int, int, float, list[float]]:
    """Cancel every order once, ``concurrency`` at a time; (refunded, errors, seconds, latencies)."""
    queue = list(order_ids)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while queue:
                order_id = queue.pop()
                started = time.perf_counter()
                response = await client.post(
                    f"/api/orders/orders/{order_id}/cancel", headers={"Idempotency-Key": f"cancel-{order_id}"}
                )
                if response.status_code == 200 and response.json()["refund"]:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), errors, time.perf_counter() - began, latencies


def bare_hop(seconds: float) -> list[gateway_hop.Result]:
    """gateway_hop.py's trivial upstream, straight and through the gateway, on this machine now."""
    upstream_port, gateway_port = gateway_hop.free_port(), gateway_hop.free_port()
    env = {
        **os.environ,
        "MAMORI_ORDERS_UPSTREAMS": f"http://{gateway_hop.HOST}:{upstream_port}",
        "MAMORI_GATEWAY_PORT": str(gateway_port),
        "MAMORI_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    upstream_cmd = [sys.executable, str(Path(gateway_hop.__file__).resolve()), "--serve-upstream", str(upstream_port)]
    with (
        gateway_hop.process(upstream_cmd, env=env) as upstream,
        gateway_hop.process(gateway_hop.gateway_command(gateway_port), env=env) as gateway,
    ):
        gateway_hop.wait_for(upstream_port, gateway_hop.PING_PATH)
        gateway_hop.wait_for(gateway_port, gateway_hop.PING_PATH)
        direct = gateway_hop.load("direct", upstream_port, 32, 1, 1.0, seconds, {"upstream": upstream.pid})
        through = gateway_hop.load(
            "through the gateway", gateway_port, 32, 1, 1.0, seconds, {"upstream": upstream.pid, "gateway": gateway.pid}
        )
    return [direct, through]


def _line(name: str, done: int, errors: int, seconds: float, latencies: list[float]) -> str:
    latencies = sorted(latencies) or [0.0]
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return (
        f"{name:<34} {done / seconds:>8.1f} /s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   ({done} ok, {errors} errors)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orders-bench-") as tmp:
        run = MamoriRun(Path(tmp) / "var", env={"MAMORI_LOG_LEVEL": "WARNING"})
        try:
            run.start()
            orders_url = next(child.url for child in run.children if child.name == "orders")
            with httpx.Client(base_url=run.gateway_url, timeout=30) as gateway:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                registered = gateway.post(
                    "/api/auth/accounts", json={"email": email, "password": PASSWORD, "name": NAME}
                )
                assert registered.status_code in (200, 201), registered.text
                signed_in = gateway.post("/api/auth/login", json={"email": email, "password": PASSWORD})
                assert signed_in.status_code == 200, signed_in.text
                token = signed_in.json()["access_token"]

            def place(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
                return client.post(
                    "/api/orders/orders", json=ORDER, headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
                )

            print(f"{os.cpu_count()} CPUs, concurrency {args.concurrency}, {args.seconds:.0f} s per figure, SQLite")
            direct = asyncio.run(_drive(orders_url, token, args.concurrency, args.seconds, place))
            print(_line("placeOrder straight to orders", direct[0], direct[1], args.seconds, direct[2]), flush=True)
            through = asyncio.run(_drive(run.gateway_url, token, args.concurrency, args.seconds, place))
            print(_line("placeOrder through the gateway", through[0], through[1], args.seconds, through[2]), flush=True)

            placed = [response.json()["id"] for response in through[3]]
            refunded, errors, elapsed, latencies = asyncio.run(
                _cancel_all(run.gateway_url, token, placed, args.concurrency)
            )
            print(_line("cancel + refund through the gateway", refunded, errors, elapsed, latencies), flush=True)
        finally:
            run.close()

    hop = bare_hop(min(args.seconds, 3.0))
    print("\nThe bare hop on this run (a trivial ASGI upstream, as in gateway_hop.py):")
    for result in hop:
        print("  " + result.line())
    print(
        f"\nplaceOrder through the gateway keeps {100 * through[0] / max(1, direct[0]):.0f}% of the direct rate; "
        f"the bare hop keeps {100 * hop[1].rate / hop[0].rate:.0f}% "
        f"(adds {hop[1].p50_ms - hop[0].p50_ms:.2f} ms at p50)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
