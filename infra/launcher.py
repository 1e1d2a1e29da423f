"""``mamori run``: every service, the gateway and the edge as separate processes on this machine.

It migrates each service's database, seeds the demo accounts, makes each service's key pair at
first start (``mamori_common/service_keys.py``: each service is handed the file of its own
private key, the portal and the gateway none), starts the processes (each under
uvicorn, in a session of its own so Ctrl-C reaches only the launcher), waits until the edge
reports every service up, prints the portal URL (``http://localhost:<port>``: passkeys need a
name, not an IP address) and the demo credentials, and on Ctrl-C or
SIGTERM stops the edge first, then the gateway, then the services, killing any that do not stop
in time. While it runs, a child that exits is started again with backoff and the log says so
(:mod:`infra.supervisor`); only Ctrl-C or SIGTERM stops the suite.

The edge (``MAMORI_EDGE``, see :mod:`infra.edge`) is nginx when it is installed: it listens on
the public port and routes ``/healthz``, ``/openapi.json`` and ``/docs`` to the gateway app on
an internal port. Without nginx the gateway app is the edge itself, on the public port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from gateway.nginx import GATEWAY_GROUP, EdgeLayout, host_port
from infra import services
from infra.edge import EdgeKind, EdgeSettings, choose_edge, find_nginx, nginx_command, run_as, write_config
from infra.services import BACKEND_SERVICES, GATEWAY, ProcessSpec
from infra.supervisor import Supervised, Supervisor
from mamori_common.service_keys import ensure_key_pairs
from mamori_common.settings import CommonSettings

#: Key settings a shell may hold; the launcher sets each service's own instead, and gives the
#: portal and the gateway none.
SERVICE_KEY_VARIABLES = frozenset({"MAMORI_SERVICE_PRIVATE_KEY", "MAMORI_SERVICE_KEY_FILE"})
#: Each process's own secrets, when an operator sets them in the shell: given to their owner alone,
#: so the portal, the gateway or another service never holds auth's token-signing key (which mints
#: any customer's session) or a key that reads another's data.
OWN_SECRET_VARIABLES = {
    "auth": frozenset({"MAMORI_AUTH_SIGNING_KEY", "MAMORI_AUTH_ENCRYPTION_KEY"}),
    "verification": frozenset({"MAMORI_VERIFICATION_DOCUMENT_KEYS"}),
    "portal": frozenset({"MAMORI_PORTAL_CSRF_KEY"}),
}
_SOMEONES_SECRET = frozenset().union(*OWN_SECRET_VARIABLES.values())

STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


#: A child process and how to start it again (``infra/supervisor.py``).
Child = Supervised


@dataclass
class Launcher:
    """Starts and stops one deployment; used by ``mamori run`` and by the system tests."""

    host: str = "127.0.0.1"
    #: The name the public URL uses (printed, the portal's ``MAMORI_PUBLIC_URL``, the passkey
    #: origin): ``localhost`` resolves to ``host`` and is a valid WebAuthn relying party id.
    public_host: str = "localhost"
    gateway_port: int = 8000
    replicas: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    #: ``auto``, ``nginx`` or ``python`` (``MAMORI_EDGE`` when not given).
    edge_setting: str | None = None
    children: list[Child] = field(default_factory=list)
    #: What :meth:`start` chose.
    edge: EdgeKind = "python"
    gateway_metrics_url: str = ""

    #: Each signing service's private key file, made at first start (``mamori_common/service_keys.py``).
    service_key_files: dict[str, Path] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """What every process shares. No key is in it: :meth:`process_environment` gives each
        service its own, and the portal and the gateway none."""
        env = {
            key: value for key, value in {**os.environ, **self.extra_env}.items() if key not in SERVICE_KEY_VARIABLES
        }
        data_dir = CommonSettings().data_dir.resolve()
        env["MAMORI_DATA_DIR"] = str(data_dir)
        self.service_key_files = ensure_key_pairs(data_dir)
        return env

    def process_environment(self, spec: ProcessSpec, env: dict[str, str]) -> dict[str, str]:
        """``env`` without the secrets of other processes, plus, for a service that signs internal
        calls, the file of its own key alone."""
        others = _SOMEONES_SECRET - OWN_SECRET_VARIABLES.get(spec.name, frozenset())
        own = {key: value for key, value in env.items() if key not in others}
        key_file = self.service_key_files.get(spec.name)
        return own if key_file is None else {**own, "MAMORI_SERVICE_KEY_FILE": str(key_file)}

    def start(self) -> str:
        """Start everything; return the public URL once every service answers through the edge."""
        env = self.environment()
        nginx = find_nginx()
        self.edge = choose_edge(self.edge_setting or EdgeSettings().edge, nginx)
        upstreams: dict[str, list[str]] = {}
        for spec in BACKEND_SERVICES:
            upstreams[spec.name] = [f"http://{self.host}:{free_port(self.host)}" for _ in range(self.replicas)]
            env[f"MAMORI_{spec.name.upper()}_URL"] = upstreams[spec.name][0]
            env[f"MAMORI_{spec.name.upper()}_UPSTREAMS"] = ",".join(upstreams[spec.name])
        # The edge listens on the host's address; customers reach it by name (public_host), which
        # passkeys need: a browser refuses an IP address as the relying party id.
        listen_url = f"http://{self.host}:{self.gateway_port}"
        public_url = f"http://{self.public_host}:{self.gateway_port}"
        gateway_url = listen_url if self.edge == "python" else f"http://{self.host}:{free_port(self.host)}"
        metrics_port = free_port(self.host)
        self.gateway_metrics_url = f"http://{self.host}:{metrics_port}/metrics"
        env["MAMORI_GATEWAY_PORT"] = gateway_url.rsplit(":", 1)[1]
        env["MAMORI_GATEWAY_METRICS_PORT"] = str(metrics_port)
        env.setdefault("MAMORI_PUBLIC_URL", public_url)
        env.setdefault("MAMORI_PASSKEY_ORIGINS", public_url)
        try:
            for spec in BACKEND_SERVICES:
                for url in upstreams[spec.name]:
                    self._spawn(spec, url, env)
            self._wait_ready([child.url + "/readyz" for child in self.children])
            self._spawn(GATEWAY, gateway_url, env)
            self._wait_ready([gateway_url + "/healthz"])
            if self.edge == "nginx":
                assert nginx is not None
                self._spawn_nginx(nginx, listen_url, gateway_url, upstreams)
                self._wait_ready([listen_url + "/healthz"])
        except BaseException:
            self.stop()
            raise
        return public_url

    def _spawn_nginx(self, nginx: str, listen_url: str, gateway_url: str, upstreams: dict[str, list[str]]) -> None:
        settings = CommonSettings()
        data_dir = settings.data_dir.resolve()
        log_dir = self.log_dir or data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        groups = {name: [host_port(url) for url in urls] for name, urls in upstreams.items()}
        groups[GATEWAY_GROUP] = [host_port(gateway_url)]
        layout = EdgeLayout(
            listen=host_port(listen_url),
            upstreams=groups,
            trusted_proxies=settings.trusted_proxies,
            runtime_dir=str(data_dir / "edge"),
            access_log=str(log_dir / "nginx-access.log"),
            error_log=str(log_dir / "nginx-error.log"),
            workers="1" if self.replicas == 1 else "auto",
            run_as=run_as(),
        )
        command = nginx_command(nginx, write_config(layout))

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command, cwd=services.ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

        self.children.append(Child("edge", listen_url, start(), start, started_at=time.monotonic()))

    def _spawn(self, spec: ProcessSpec, url: str, shared_env: dict[str, str]) -> None:
        port = url.rsplit(":", 1)[1]
        env = self.process_environment(spec, shared_env)
        command = [
            sys.executable, "-m", "uvicorn", "--factory", spec.app_factory,
            "--host", self.host, "--port", port, "--no-access-log", "--no-proxy-headers", "--no-server-header", "--log-level", "warning",
            "--timeout-graceful-shutdown", str(int(STOP_GRACE_SECONDS) - 2),
        ]  # fmt: skip
        log_dir = self.log_dir

        def start() -> subprocess.Popen[bytes]:
            if log_dir is None:
                return subprocess.Popen(command, env=env, cwd=services.ROOT, start_new_session=True)
            log_dir.mkdir(parents=True, exist_ok=True)
            with open(log_dir / f"{spec.name}-{port}.log", "ab") as output:  # the child keeps its own copy
                return subprocess.Popen(
                    command, env=env, cwd=services.ROOT, stdout=output, stderr=output, start_new_session=True
                )

        self.children.append(Child(spec.name, url, start(), start, started_at=time.monotonic()))

    def _wait_ready(self, urls: Sequence[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        pending = list(urls)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for child in self.children:
                    if child.process.poll() is not None:
                        raise RuntimeError(f"{child.name} ({child.url}) exited with code {child.process.returncode}")
                still = []
                for url in pending:
                    try:
                        if client.get(url).status_code != 200:
                            still.append(url)
                    except httpx.HTTPError:
                        still.append(url)
                pending = still
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {READY_TIMEOUT_SECONDS:.0f}s: {', '.join(pending)}")
                if pending:
                    time.sleep(0.2)

    def stop(self) -> None:
        """The edge and the gateway first (no new requests), then the services; kill what does
        not stop in time."""
        front = {"edge": 0, "gateway": 1}
        for child in sorted(self.children, key=lambda child: front.get(child.name, 2)):
            if child.process.poll() is None:
                child.process.terminate()
                if child.name in front:
                    _wait(child.process, STOP_GRACE_SECONDS)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            _wait(child.process, max(0.1, deadline - time.monotonic()))
        self.children.clear()

    def supervisor(self, say: Callable[[str], None]) -> Supervisor:
        """Restarts whichever child exits (``infra/supervisor.py``)."""
        return Supervisor(self.children, say)


def _wait(process: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(replicas: int = 1, seed_demo: bool = True) -> int:
    """The body of ``mamori run``; returns the exit code."""
    from infra.demo import seed_demo_accounts

    settings = CommonSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Mamori: data in {settings.data_dir.resolve()}", flush=True)
    services.migrate()
    demo_accounts = seed_demo_accounts() if seed_demo else []
    port = int(os.environ.get("MAMORI_GATEWAY_PORT", "8000"))
    launcher = Launcher(gateway_port=port, replicas=replicas, log_dir=settings.data_dir / "logs")

    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        url = launcher.start()
    except RuntimeError as exc:
        print(f"Mamori could not start: {exc} (logs in {settings.data_dir / 'logs'})", file=sys.stderr)
        return 1
    edge = "nginx" if launcher.edge == "nginx" else "the Python gateway (nginx not found, or MAMORI_EDGE=python)"
    print(f"\nMamori is running.\n  Portal:   {url}/\n  API docs: {url}/docs\n  Edge:     {edge}", flush=True)
    print(f"  Gateway metrics (this machine only): {launcher.gateway_metrics_url}", flush=True)
    for demo in demo_accounts:
        totp = f"  totp secret: {demo.totp_secret}" if demo.totp_secret else ""
        print(f"  {demo.role.value:<10} {demo.email}  password: {demo.password}{totp}", flush=True)
    print(f"  Mail (no SMTP configured): {settings.data_dir.resolve() / 'mail'}\nPress Ctrl-C to stop.", flush=True)
    supervisor = launcher.supervisor(lambda line: print(line, file=sys.stderr, flush=True))
    while not stopping:
        supervisor.check()
        time.sleep(0.2)
    print("Stopping Mamori ...", flush=True)
    launcher.stop()
    print("Stopped.", flush=True)
    return 0
