"""What the gateway hop costs: the same load, straight to a service and through the gateway.

Run: ``.venv/bin/python tests/bench/gateway_hop.py [--seconds 5] [--concurrency 32]``

It starts a trivial upstream (uvicorn, its own process, answering ``GET /api/orders/ping`` with a
small JSON body) and the gateway (its own process, started the way the launcher starts it, with
``MAMORI_ORDERS_UPSTREAMS`` pointing at the upstream), all on free loopback ports. Load comes from
a lean keep-alive HTTP/1.1 client (raw asyncio streams on uvloop, in worker processes), so the
load generator spends as little CPU as possible on the same machine. Each target gets the same
concurrency for the same time after a warm-up; the script prints requests/s and p50/p99 latency
for each and the ratios: throughput kept, and milliseconds added at p50. When nginx is installed
(on PATH or in /usr/sbin) the same load also goes through nginx, configured by ``mamori edge
nginx-config``'s renderer (gateway/nginx.py) from the route table, one worker: the production
edge. The aim (issue 10): the Python gateway keeps at least 60% of direct throughput with the
service-shell upstream (``--upstream service``).

A connection the server closes (nginx closes a keep-alive connection after ``keepalive_requests``
answers; a server may close after an error) is opened again and the load goes on.

Figures, not assertions: they depend on the machine (a proxy on a 2-core box shares its CPUs
with the upstream and the load generator). Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PING_PATH = "/api/orders/ping"
PING_BODY = json.dumps({"pong": True, "service": "orders"}).encode()


# --- the upstream -----------------------------------------------------------------------------


async def upstream_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI app: the cheapest possible service, so the figures show the hop."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    found = scope["path"] in (PING_PATH, "/readyz")
    body = PING_BODY if found else b'{"code":"not_found"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def service_app() -> FastAPI:
    """A Mamori service shell (``create_base_app``: problems, request ids, metrics, access log)
    with one async route: what a real service costs per request, short of its database."""
    from mamori_common.app import create_base_app
    from mamori_common.settings import CommonSettings

    app = create_base_app("orders", "orders", "benchmark upstream", CommonSettings())

    @app.get("/api/orders/ping")
    async def ping() -> dict[str, object]:
        return {"pong": True, "service": "orders"}

    return app


def serve_upstream(port: int, kind: str) -> None:
    import uvicorn

    app = upstream_app if kind == "asgi" else service_app()
    # As the launcher runs a service (infra/launcher.py): no access log, no Server header, and no
    # uvicorn X-Forwarded-* rewriting (left on, it would rewrite every request the gateway sends).
    uvicorn.run(
        app, host=HOST, port=port, log_level="warning", access_log=False, proxy_headers=False, server_header=False,
        lifespan="on",
    )  # fmt: skip


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, path: str, timeout: float = 30.0) -> None:
    """Until ``GET path`` answers 200."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as connection:
                connection.sendall(request)
                if connection.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)  # not listening yet
            continue
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered 200 on {HOST}:{port}{path} in {timeout:.0f}s")


@contextmanager
def process(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own session, terminated (then killed) on the way out."""
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output, start_new_session=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if not isinstance(output, int):  # a log file, not DEVNULL
            output.close()


def gateway_command(port: int) -> list[str]:
    # The options the launcher should use for the gateway: httptools and uvloop (uvicorn picks
    # them when installed; named here so a missing one fails loudly), no access log from
    # uvicorn (the gateway writes its own), no Server header, and no uvicorn X-Forwarded-*
    # rewriting (the gateway decides which peers to believe, from MAMORI_TRUSTED_PROXIES).
    return [
        sys.executable, "-m", "uvicorn", "--factory", "gateway.main:create_app",
        "--host", HOST, "--port", str(port), "--http", "httptools", "--loop", "uvloop",
        "--no-access-log", "--no-server-header", "--no-proxy-headers", "--log-level", "warning",
    ]  # fmt: skip


#: The Python gateway's aim with the service-shell upstream: this share of direct throughput.
GATEWAY_AIM = 0.60


def nginx_config(tmp: str, upstream_port: int, gateway_port: int, nginx_port: int) -> Path:
    """The production edge's configuration (one worker, no access log) for this bench."""
    sys.path.insert(0, str(ROOT))
    from gateway.nginx import EdgeLayout
    from infra.edge import run_as, write_config

    upstream = f"{HOST}:{upstream_port}"
    layout = EdgeLayout(
        listen=f"{HOST}:{nginx_port}",
        upstreams={"auth": [upstream], "verification": [upstream], "orders": [upstream], "portal": [upstream],
                   "gateway": [f"{HOST}:{gateway_port}"]},
        trusted_proxies=["127.0.0.1/32"],
        runtime_dir=str(Path(tmp) / "nginx"),
        error_log=str(Path(tmp) / "nginx-error.log"),
        workers="1",
        run_as=run_as(),
    )  # fmt: skip
    return write_config(layout)


# --- the load ---------------------------------------------------------------------------------


async def _connection(port: int, until: float, warmup_until: float, latencies: list[float]) -> tuple[int, int]:
    """One keep-alive connection sending requests back to back; returns (requests, errors).
    When the server closes the connection (after an answer, or before one), it is opened again."""
    request = f"GET {PING_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: gateway-hop\r\n\r\n".encode()
    errors = sent = 0
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                return sent, errors
            sent += 1
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                closing = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"connection" and value.strip().lower() == b"close":
                        closing = True
                await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                # An idle keep-alive connection the server closed as we wrote: send it again.
                sent -= 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            finished = time.perf_counter()
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            elif started >= warmup_until:
                latencies.append(finished - started)
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


async def _drive(port: int, connections: int, warmup: float, seconds: float) -> tuple[list[float], int, int]:
    now = time.perf_counter()
    latencies: list[float] = []
    counts = await asyncio.gather(
        *(_connection(port, now + warmup + seconds, now + warmup, latencies) for _ in range(connections))
    )
    return latencies, sum(sent for sent, _ in counts), sum(errors for _, errors in counts)


def _worker(
    port: int,
    connections: int,
    warmup: float,
    seconds: float,
    results: multiprocessing.Queue[tuple[list[float], int, int]],
) -> None:
    try:
        import uvloop

        outcome = uvloop.run(_drive(port, connections, warmup, seconds))
    except ImportError:
        outcome = asyncio.run(_drive(port, connections, warmup, seconds))
    results.put(outcome)


def with_children(pid: int) -> list[int]:
    """``pid`` and its child processes (nginx's workers do its work; Linux ``/proc``)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(int(child) for child in children)]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used (Linux ``/proc``; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    #: CPU time (user + system) per request of each server process, in microseconds: unlike
    #: req/s, it hardly depends on what else the machine is doing.
    cpu_us: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        cpu = ", ".join(f"{name} {value:.0f}" for name, value in self.cpu_us.items())
        return (
            f"{self.name:<22} {self.rate:>9.0f} req/s   p50 {self.p50_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms"
            f"   ({self.requests} requests, {self.errors} errors; CPU us/request: {cpu or 'n/a'})"
        )


def load(
    name: str, port: int, concurrency: int, workers: int, warmup: float, seconds: float, servers: dict[str, int]
) -> Result:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[list[float], int, int]] = context.Queue()
    shares = [concurrency // workers + (1 if index < concurrency % workers else 0) for index in range(workers)]
    children = [
        context.Process(target=_worker, args=(port, share, warmup, seconds, results)) for share in shares if share
    ]
    cpu_before = {server: cpu_seconds(with_children(pid)) for server, pid in servers.items()}
    for child in children:
        child.start()
    latencies: list[float] = []
    errors = sent = 0
    for _ in children:
        worker_latencies, worker_sent, worker_errors = results.get(timeout=warmup + seconds + 60)
        latencies.extend(worker_latencies)
        sent += worker_sent
        errors += worker_errors
    cpu_us = {
        server: (cpu_seconds(with_children(pid)) - cpu_before[server]) / max(1, sent) * 1e6
        for server, pid in servers.items()
    }
    for child in children:
        child.join(10)
    if not latencies:
        raise RuntimeError(f"{name}: no request succeeded ({errors} errors)")
    latencies.sort()
    return Result(
        name,
        len(latencies),
        errors,
        seconds,
        latencies[len(latencies) // 2] * 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        {server: value for server, value in cpu_us.items() if value > 0},
    )


def compare(direct: Result, proxied: Result, aim: float | None) -> str:
    kept = proxied.rate / direct.rate
    verdict = "" if aim is None else f"   (aim >= {aim:.0%}: {'met' if kept >= aim else 'NOT met'})"
    return (f"{proxied.name}: keeps {kept:.0%} of direct throughput, adds {proxied.p50_ms - direct.p50_ms:.2f} ms "
            f"at p50{verdict}")  # fmt: skip


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per target")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32, help="open connections, each sending back to back")
    parser.add_argument("--workers", type=int, default=1, help="load-generator processes")
    parser.add_argument(
        "--upstream",
        choices=("asgi", "service"),
        default="asgi",
        help="asgi: a bare ASGI app (the hop's cost in isolation); service: a Mamori service shell",
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.upstream)
        return 0

    upstream_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MAMORI_ORDERS_UPSTREAMS": f"http://{HOST}:{upstream_port}",
        "MAMORI_GATEWAY_PORT": str(gateway_port),
        "MAMORI_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    print(f"{os.cpu_count()} CPUs, {args.upstream} upstream, concurrency {args.concurrency}, {args.workers} load "
          f"worker(s), {args.seconds:.0f} s per target after {args.warmup:.0f} s warm-up")  # fmt: skip
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="gateway-hop-") as tmp:
        upstream_cmd = [
            *(sys.executable, str(Path(__file__).resolve())),
            *("--serve-upstream", str(upstream_port), "--upstream", args.upstream),
        ]
        with (
            process(upstream_cmd, env=env) as upstream,
            process(gateway_command(gateway_port), env=env, log=Path(tmp) / "gateway.log") as gateway,
        ):
            wait_for(upstream_port, PING_PATH)
            wait_for(gateway_port, PING_PATH)
            direct = load(
                "direct",
                upstream_port,
                args.concurrency,
                args.workers,
                args.warmup,
                args.seconds,
                {"upstream": upstream.pid},
            )
            print(direct.line(), flush=True)
            results.append(direct)
            through = load(
                "through the gateway",
                gateway_port,
                *(args.concurrency, args.workers, args.warmup, args.seconds),
                {"upstream": upstream.pid, "gateway": gateway.pid},
            )
            print(through.line(), flush=True)
            results.append(through)
            sys.path.insert(0, str(ROOT))
            from infra.edge import find_nginx, nginx_command

            nginx = find_nginx()
            if nginx is None:
                print("nginx was not found (PATH, /usr/sbin): no nginx row")
            else:
                conf = nginx_config(tmp, upstream_port, gateway_port, nginx_port)
                with process(nginx_command(nginx, conf)) as proxy:
                    wait_for(nginx_port, PING_PATH)
                    proxied = load(
                        "through nginx",
                        nginx_port,
                        *(args.concurrency, args.workers, args.warmup, args.seconds),
                        {"upstream": upstream.pid, "nginx": proxy.pid},
                    )
                    print(proxied.line(), flush=True)
                    results.append(proxied)
    print()
    for result in results[1:]:
        aim = GATEWAY_AIM if result.name == "through the gateway" and args.upstream == "service" else None
        print(compare(results[0], result, aim))
    if args.upstream != "service":
        print(f"(the gateway's aim, >= {GATEWAY_AIM:.0%} of direct, is set for --upstream service)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
