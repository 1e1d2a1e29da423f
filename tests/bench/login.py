"""Sign-in throughput: successful logins/s through each edge against the bare Argon2id rate.

Run: ``.venv/bin/python tests/bench/login.py [--seconds 8] [--concurrency 6]``

What it does, in one run on this machine:

1. The bare hashing rate: ``Passwords(...).verify`` in a loop, with the service's Argon2id
   parameters (19 MiB, 2 passes, 1 lane), in as many processes as there are CPUs (the auth
   service can use every core too: argon2-cffi releases the GIL), for a fixed time. Also at
   Keycloak's parameters (7 MiB, 5 passes), for a fair comparison with its sizing guide.
2. A deployment started the way ``mamori run`` starts it (infra.launcher.Launcher: every service
   and the gateway as uvicorn processes on free loopback ports, nginx in front when installed),
   in a temporary data dir.
3. One account is registered and signed in once from its device and from each owner address
   (its baseline), then ``--concurrency`` keep-alive connections, each from its own owner
   address, sign in with the right password back to back for ``--seconds`` seconds: every answer
   must be a 200 with tokens. (Several addresses, as real customers come from: nginx's coarse
   per-address limit on the sign-in paths would otherwise cap one address's rate.)
4. One client address fails a few times (on another address) until the throttle delays it, then the same number of
   connections hammer ``login`` from it: every answer must be a 429 (turned away before any
   password hash; through nginx mostly by nginx itself). The bench sets
   ``MAMORI_THROTTLE_CLIENT_BASE_DELAY_SECONDS=600`` so the delay outlasts the measurement;
   nothing else differs from the defaults.
5. Both loads through nginx, through the Python gateway and straight to the auth service: the
   three rows of issue 10, from one run.

A connection the server closes is opened again and the load goes on.

It prints the rates and ratios: logins/s as a share of the bare hashing rate (aim: at least 85%),
throttled rejections/s as a multiple of the login rate (aim: at least 50x) and auth's CPU per
rejection (aim: under 0.1 ms), and our logins/s per core beside Keycloak's published 15 password
logins/s per vCPU (Argon2, 7 MiB, 5 iterations).
Figures, not assertions: they depend on the machine, and on a 2-core box the load generator, the
gateway and the service share the CPUs. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
EMAIL = "bench@example.com"
PASSWORD = "plum-blossom-harbour-7"
#: The owner's client names no device: auth rotates device tokens on every sign-in, so a request
#: replayed with one would carry a rotated-out token (a "new device" asking a step-up). Known
#: addresses alone let the owner in without one.
DEVICE: str | None = None
OWNER_ADDRESS = "192.0.2.10"
#: Owner addresses of the login load: one per connection.
OWNER_ADDRESSES = [f"192.0.2.{10 + index}" for index in range(64)]
GUESSER_ADDRESS = "198.51.100.9"
#: The guesser tries another address than the bench account's: failures from a client the account
#: never saw would (rightly) make the account's owner step up, and the login load must stay 200s.
GUESSED = "someone-else@example.com"
KEYCLOAK_LOGINS_PER_VCPU = 15.0  # Keycloak sizing guide: password logins, Argon2 7 MiB, 5 iterations


# --- bare hashing ---------------------------------------------------------------------------------


def _hash_worker(
    memory_kib: int, time_cost: int, seconds: float, results: multiprocessing.Queue[tuple[int, float]]
) -> None:
    from services.auth.credentials.passwords import Passwords

    passwords = Passwords(memory_kib, time_cost, 1)
    stored = passwords.hash(PASSWORD)
    passwords.verify(stored, PASSWORD)  # warm
    done = 0
    cpu = time.process_time()
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        passwords.verify(stored, PASSWORD)
        done += 1
    results.put((done, time.process_time() - cpu))


@dataclass
class Hashing:
    per_second: float
    #: CPU milliseconds one verification takes.
    cpu_ms: float


def hashing_rate(memory_kib: int, time_cost: int, processes: int, seconds: float) -> Hashing:
    """Verifications per second, all ``processes`` together, and the CPU time of one."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, float]] = context.Queue()
    workers = [
        context.Process(target=_hash_worker, args=(memory_kib, time_cost, seconds, results)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(10)
    done = sum(count for count, _ in outcomes)
    return Hashing(done / seconds, sum(cpu for _, cpu in outcomes) * 1000 / max(1, done))


# --- the load ---------------------------------------------------------------------------------


def _request(port: int, body: dict[str, str], address: str, device: str | None) -> bytes:
    payload = json.dumps(body).encode()
    lines = [
        "POST /api/auth/login HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        f"X-Forwarded-For: {address}",
        "User-Agent: mamori-login-bench",
    ]
    if device:
        lines.append(f"X-Device-Token: {device}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server closes the connection after this answer)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = closing = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            closing = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, closing


async def _connection(
    port: int, request: bytes, expect: int, warmup_until: float, until: float
) -> tuple[int, int, int]:
    """One keep-alive connection sending back to back: (answers as expected, others) after the
    warm-up, and all answers (for CPU time per answer). A connection the server closed (nginx
    after ``keepalive_requests``, uvicorn after some errors) is opened again."""
    reader, writer = await asyncio.open_connection(HOST, port)
    good = bad = total = 0
    try:
        while (started := time.perf_counter()) < until:
            writer.write(request)
            try:
                status, closing = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                # An idle keep-alive connection the server closed as we wrote: send it again.
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            total += 1
            if started >= warmup_until:
                if status == expect:
                    good += 1
                else:
                    bad += 1
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()
    return good, bad, total


async def _drive(port: int, requests: list[bytes], expect: int, warmup: float, seconds: float) -> tuple[int, int, int]:
    now = time.perf_counter()
    counts = await asyncio.gather(
        *(_connection(port, request, expect, now + warmup, now + warmup + seconds) for request in requests)
    )
    return sum(item[0] for item in counts), sum(item[1] for item in counts), sum(item[2] for item in counts)


def _load_worker(
    port: int,
    requests: list[bytes],
    expect: int,
    warmup: float,
    seconds: float,
    results: multiprocessing.Queue[tuple[int, int, int]],
) -> None:
    try:
        import uvloop

        results.put(uvloop.run(_drive(port, requests, expect, warmup, seconds)))
    except ImportError:
        results.put(asyncio.run(_drive(port, requests, expect, warmup, seconds)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children have used (nginx's workers do its
    work; Linux ``/proc``; 0 elsewhere)."""
    try:
        children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    total = 0.0
    for each in (pid, *children):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Rate:
    good: int
    bad: int
    seconds: float
    #: CPU milliseconds per answer of each server process (warm-up included): unlike rates, it
    #: hardly depends on what else the machine is doing.
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.good / self.seconds


def load(port: int, requests: list[bytes], expect: int, warmup: float, seconds: float, servers: dict[str, int]) -> Rate:
    """Run the load in a process of its own, so it does not share this one's interpreter."""
    before = {name: cpu_seconds(pid) for name, pid in servers.items()}
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, int, int]] = context.Queue()
    worker = context.Process(target=_load_worker, args=(port, requests, expect, warmup, seconds, results))
    worker.start()
    good, bad, total = results.get(timeout=warmup + seconds + 120)
    worker.join(10)
    answers = max(1, total)
    used = {name: (cpu_seconds(pid) - before[name]) * 1000 / answers for name, pid in servers.items()}
    return Rate(good, bad, seconds, used)


# --- the deployment -----------------------------------------------------------------------------


def call(
    url: str, path: str, body: dict[str, str], address: str, device: str | None = None
) -> tuple[int, dict[str, Any]]:
    import httpx

    headers = {"x-forwarded-for": address}
    if device:
        headers["x-device-token"] = device
    response = httpx.post(url + path, json=body, headers=headers, timeout=30)
    return response.status_code, response.json()


def _plain_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def signed_in_once(url: str, mail_dir: Path, address: str) -> None:
    """The owner's first sign-in from ``address``: a client the account never saw steps up with the
    code mailed to the owner; from then on the address is the owner's and the password alone opens."""
    status, body = call(url, "/api/auth/login", {"email": EMAIL, "password": PASSWORD}, address, DEVICE)
    if status == 401 and body.get("code") == "challenge_required":
        deadline = time.monotonic() + 20
        while True:
            mails = sorted(mail_dir.glob("*.eml"), key=lambda path: path.stat().st_mtime) if mail_dir.is_dir() else []
            found = re.search(r"\b(\d{6})\b", _plain_text(mails[-1])) if mails else None
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found, "no step-up code was mailed"
        answer = {"challenge_id": body["challenge_id"], "method": "email_code", "code": found.group(1)}
        status, body = call(url, "/api/auth/challenges/complete", answer, address, DEVICE)
        for mail in mails:
            mail.unlink()  # the next address's code is the only mail then
    assert status == 200, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time of each load")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=6, help="keep-alive connections sending back to back")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    from services.auth.config import AuthSettings

    defaults = AuthSettings()
    memory, passes = defaults.argon2_memory_kib, defaults.argon2_time_cost
    print(
        f"{cores} CPUs; Argon2id m={memory} KiB t={passes} p=1; concurrency {args.concurrency}; "
        f"{args.seconds:.0f} s per load after {args.warmup:.0f} s warm-up",
        flush=True,
    )
    before = hashing_rate(memory, passes, cores, args.seconds)
    one = hashing_rate(memory, passes, 1, args.seconds / 2)
    keycloak = hashing_rate(7 * 1024, 5, 1, args.seconds / 2)
    print(
        f"bare hashing: {before.per_second:.1f} verifications/s on {cores} processes, {before.cpu_ms:.1f} CPU ms "
        f"each ({one.per_second:.1f}/s on one; {keycloak.per_second:.1f}/s on one at Keycloak's 7 MiB, t=5)",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="mamori-login-bench-") as tmp:
        os.environ["MAMORI_DATA_DIR"] = tmp
        os.environ["MAMORI_LOG_LEVEL"] = "WARNING"
        from infra import services
        from infra.launcher import Launcher, free_port

        services.migrate()
        launcher = Launcher(
            gateway_port=free_port(),
            log_dir=Path(tmp) / "logs",
            extra_env={"MAMORI_THROTTLE_CLIENT_BASE_DELAY_SECONDS": "600", "PYTHONPATH": str(ROOT)},
        )
        public = launcher.start()
        try:
            auth = next(child.url for child in launcher.children if child.name == "auth")
            gateway = next(child.url for child in launcher.children if child.name == "gateway")
            status, body = call(
                public, "/api/auth/accounts", {"email": EMAIL, "password": PASSWORD, "name": "Bench"}, OWNER_ADDRESS
            )
            assert status == 201, body
            owners = OWNER_ADDRESSES[: args.concurrency]
            for address in owners:  # the baseline: these addresses are the owner's
                signed_in_once(public, Path(tmp) / "mail", address)
            free = defaults.throttle_client_free_failures
            for n in range(free + 1):
                status, body = call(
                    public, "/api/auth/login", {"email": GUESSED, "password": f"guess-{n}-xyz"}, GUESSER_ADDRESS
                )
                assert status == 401, body
            status, body = call(public, "/api/auth/login", {"email": GUESSED, "password": "guess-x"}, GUESSER_ADDRESS)
            assert status == 429, body

            servers = {
                child.name: child.process.pid
                for child in launcher.children
                if child.name in ("auth", "gateway", "edge")
            }
            targets = [("nginx", public)] if launcher.edge == "nginx" else []
            targets += [("gateway", gateway), ("auth direct", auth)]
            results: dict[str, Rate] = {}
            for target, url in targets:
                port = int(url.rsplit(":", 1)[1])
                good = [_request(port, {"email": EMAIL, "password": PASSWORD}, address, DEVICE) for address in owners]
                guess = [
                    _request(port, {"email": GUESSED, "password": "another-guess-1"}, GUESSER_ADDRESS, None)
                ] * len(owners)
                results[f"logins via {target}"] = load(port, good, 200, args.warmup, args.seconds, servers)
                results[f"throttled via {target}"] = load(port, guess, 429, args.warmup, args.seconds, servers)
        finally:
            launcher.stop()

    after = hashing_rate(memory, passes, cores, args.seconds)
    bare = (before.per_second + after.per_second) / 2  # the machine's speed drifts: take both ends
    print(f"bare hashing again: {after.per_second:.1f}/s; the ratios use the mean, {bare:.1f}/s")
    print()
    for name, rate in results.items():
        cpu = ", ".join(f"{server} {value:.3f}" for server, value in rate.cpu_ms.items())
        print(
            f"{name:<24} {rate.per_second:9.1f} /s   ({rate.good} answers as expected, {rate.bad} others; "
            f"CPU ms per answer: {cpu})"
        )
    print()
    for target, _url in targets:
        logins = max(results[f"logins via {target}"].per_second, 1e-9)
        throttled = results[f"throttled via {target}"]
        auth_cpu = throttled.cpu_ms.get("auth", 0.0)
        print(
            f"{target:<12} logins / bare hashing {logins / bare:6.1%} (aim >= 85%)   "
            f"throttled / logins {throttled.per_second / logins:7.1f}x (aim >= 50x)   "
            f"auth CPU per rejection {auth_cpu:.3f} ms (aim < 0.1 ms)"
        )
    edge = targets[0][0]
    login_rate = max(results[f"logins via {edge}"].per_second, 1e-9)
    login_cpu = sum(results[f"logins via {edge}"].cpu_ms.values())
    print(
        f"CPU: a login costs {login_cpu:.1f} ms in auth + gateway + edge, of which one verification is "
        f"{before.cpu_ms:.1f} ms ({before.cpu_ms / login_cpu:.0%})"
    )
    print(
        f"per core: {login_rate / cores:.1f} logins/s (Argon2id 19 MiB, t=2) beside Keycloak's "
        f"{KEYCLOAK_LOGINS_PER_VCPU:.0f}/vCPU (7 MiB, t=5); bare hashing here at Keycloak's parameters: "
        f"{keycloak.per_second:.1f}/s per core"
    )
    return 0 if all(rate.bad == 0 for rate in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
