"""docker-compose's trust settings, run: two customers through the portal are throttled apart.

The portal calls auth on a customer's behalf and names the customer's address in
``X-Forwarded-For``. Auth believes that header only from ``MAMORI_TRUSTED_PROXIES``; in the compose
file that used to be the edge alone, so every portal customer counted as the portal's address: a
few wrong passwords gave everyone 429. Here the real auth and portal processes run with the
compose file's own ``MAMORI_TRUSTED_PROXIES`` and with the compose addresses of the edge and the
portal, each moved onto loopback (``172.30.77.10`` becomes ``127.30.77.10``): the test sends the
browsers' requests from the edge's address, like nginx, and the portal's calls to auth leave from
the portal's address through a small relay, like the portal container's. One customer who keeps
mistyping is throttled; the other, at the same moment, is not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infra.services import AUTH, ROOT, migrate
from tests.support.processes import clean_environment
from tests.support.servers import free_port, wait_until
from tests.test_compose import COMPOSE_FILE, environment

pytestmark = pytest.mark.system

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def on_loopback(address: str) -> str:
    """A compose address (``172.30.77.10``) as a loopback one (``127.30.77.10``), same host part."""
    return "127." + ".".join(address.split(".")[1:])


def loopback_networks(trusted: str) -> str:
    networks = [ipaddress.ip_network(item.strip(), strict=False) for item in trusted.split(",") if item.strip()]
    return ",".join(f"{on_loopback(str(network.network_address))}/{network.prefixlen}" for network in networks)


class Relay:
    """Forwards TCP connections to ``target``, connecting from ``source``: a container's address."""

    def __init__(self, source: str, target: tuple[str, int]) -> None:
        self.source, self.target = source, target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, source_address=(self.source, 0))
            for reader, writer in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(reader, writer), daemon=True).start()

    @staticmethod
    def _pump(reader: socket.socket, writer: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := reader.recv(65536):
                writer.sendall(chunk)
        with contextlib.suppress(OSError):
            writer.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


def _start(factory: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--no-proxy-headers", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)


@pytest.fixture
def compose_shaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """auth and the portal with compose's trust settings; the edge's and the portal's addresses."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    edge = on_loopback(services["edge"]["networks"]["mamori"]["ipv4_address"])
    portal_address = on_loopback(services["portal"]["networks"]["mamori"]["ipv4_address"])
    trusted = {
        name: loopback_networks(environment(services[name])["MAMORI_TRUSTED_PROXIES"]) for name in ("auth", "portal")
    }

    data_dir = tmp_path / "var"
    monkeypatch.setenv("MAMORI_DATA_DIR", str(data_dir))
    migrate((AUTH,))
    auth_port, portal_port = free_port(), free_port()
    relay = Relay(portal_address, ("127.0.0.1", auth_port))
    base = {"MAMORI_DATA_DIR": str(data_dir)}
    auth = _start(
        "services.auth.main:create_app",
        auth_port,
        clean_environment({**base, "MAMORI_TRUSTED_PROXIES": trusted["auth"]}),
        tmp_path / "auth.log",
    )
    portal_env = {
        **base,
        "MAMORI_TRUSTED_PROXIES": trusted["portal"],
        "MAMORI_AUTH_URL": f"http://127.0.0.1:{relay.port}",  # the portal's calls leave from its address
    }
    portal = _start("portal.main:create_app", portal_port, clean_environment(portal_env), tmp_path / "portal.log")
    try:

        def up(url: str) -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(url, timeout=2).status_code == 200
            return False

        wait_until(lambda: up(f"http://127.0.0.1:{auth_port}/readyz"), timeout=60, interval=0.2, what="auth")
        wait_until(lambda: up(f"http://127.0.0.1:{portal_port}/healthz"), timeout=60, interval=0.2, what="portal")
        yield {"portal_url": f"http://127.0.0.1:{portal_port}", "edge": edge}
    finally:
        for process in (portal, auth):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        relay.close()


class Browser:
    """One customer's browser, reaching the portal through the edge (from the edge's address)."""

    def __init__(self, portal_url: str, edge: str, address: str) -> None:
        self.client = httpx.Client(
            base_url=portal_url,
            transport=httpx.HTTPTransport(local_address=edge),
            headers={"x-forwarded-for": address, "accept-language": "en"},
            timeout=30,
        )

    def sign_in(self, email: str, password: str) -> httpx.Response:
        page = self.client.get("/signin")
        match = _CSRF.search(page.text)
        assert match, page.text[:500]
        form = {"email": email, "password": password, "next": "/", "csrf_token": match.group(1)}
        return self.client.post("/signin", data=form, follow_redirects=False)


def test_two_customers_through_the_portal_are_throttled_separately(compose_shaped: dict[str, Any]) -> None:
    mistyping = Browser(compose_shaped["portal_url"], compose_shaped["edge"], "203.0.113.5")
    other = Browser(compose_shaped["portal_url"], compose_shaped["edge"], "198.51.100.7")
    answers = [mistyping.sign_in("nobody-a@example.com", "wrong-password-123").status_code for _ in range(8)]
    assert answers[0] == 401 and answers[-1] == 429, f"the customer who keeps mistyping is slowed down: {answers}"

    meanwhile = other.sign_in("nobody-b@example.com", "another-wrong-one-456")
    assert meanwhile.status_code == 401, "another customer is judged on their own address, not the portal's"
    assert "Too many" not in meanwhile.text and "wait" not in meanwhile.text.lower()
