"""``mamori run`` as a user starts it: a real process tree, driven and inspected from outside.

:class:`MamoriRun` starts ``python -m infra.cli run`` with its own data dir and gateway port,
reads its output until it prints the portal URL, finds the processes it started (their pids,
app factories and ports, from ``/proc``; nginx, when it is the edge, as ``edge``) and stops it
with SIGTERM, as Ctrl-C or a service manager would. Linux only, like the deployments it tests.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.services import ROOT
from tests.support.servers import free_port

START_TIMEOUT_SECONDS = 120.0
NGINX = "nginx"
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ChildProcess:
    pid: int
    app_factory: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        """``services.auth.main:create_app`` -> ``auth``; ``portal.main:create_app`` -> ``portal``;
        nginx -> ``edge``."""
        if self.app_factory == NGINX:
            return "edge"
        module = self.app_factory.split(":", 1)[0].split(".")
        return module[1] if module[0] == "services" else module[0]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def uvicorn_children(pid: int) -> list[ChildProcess]:
    """The uvicorn processes ``pid`` started, with the app and port each serves."""
    children = []
    for child in children_of(pid):
        words = _cmdline(child)
        if "--factory" in words and "--port" in words:
            factory = words[words.index("--factory") + 1]
            port = int(words[words.index("--port") + 1])
            children.append(ChildProcess(child, factory, port))
    return children


def nginx_children(pid: int, port: int) -> list[ChildProcess]:
    """The nginx master ``pid`` started (it listens on the public ``port``)."""
    return [
        ChildProcess(child, NGINX, port)
        for child in children_of(pid)
        if (words := _cmdline(child)) and Path(words[0].split()[0]).name.startswith(NGINX)
    ]


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without any ``MAMORI_*`` a developer's shell may hold, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAMORI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class MamoriRun:
    """One ``mamori run`` (``python -m infra.cli run``) in a data dir of its own."""

    def __init__(self, data_dir: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.gateway_port = free_port()
        self.args = list(args)
        self.env = clean_environment(
            {"MAMORI_DATA_DIR": str(data_dir), "MAMORI_GATEWAY_PORT": str(self.gateway_port), **(env or {})}
        )
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.children: list[ChildProcess] = []
        self.gateway_url = ""

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> MamoriRun:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "run", *self.args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read_output, name="mamori-run-output", daemon=True).start()
        portal_line = self.wait_for_output("Portal:", timeout)
        self.gateway_url = portal_line.split("Portal:", 1)[1].strip().rstrip("/")
        self.wait_for_output("Press Ctrl-C", 10)  # the demo credentials are printed in between
        self.children = uvicorn_children(self.process.pid) + nginx_children(self.process.pid, self.gateway_port)
        return self

    @property
    def edge(self) -> str:
        """``nginx`` or ``gateway``: what answers on the public port."""
        return "nginx" if any(child.name == "edge" for child in self.children) else "gateway"

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for_output(self, marker: str, timeout: float) -> str:
        """The first line of output containing ``marker``; fails if the process ends first."""
        for line in self.output:
            if marker in line:
                return line
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {marker!r} after {timeout:.0f}s; output:\n{self.transcript()}")
            try:
                printed = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if printed is None:
                raise AssertionError(f"mamori run ended before printing {marker!r}:\n{self.transcript()}")
            self.output.append(printed)
            if marker in printed:
                return printed

    def drain_output(self, timeout: float = 5.0) -> None:
        """Collect what the process printed until it closed its output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            self.output.append(line)

    def transcript(self) -> str:
        logs = ""
        log_dir = self.data_dir / "logs"
        if log_dir.is_dir():
            for path in sorted(log_dir.glob("*.log")):
                tail = path.read_text(errors="replace")[-3000:]
                logs += f"\n--- {path.name} (tail)\n{tail}"
        return "\n".join(self.output) + logs

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, as a service manager sends it; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.drain_output()
        return code

    def close(self) -> None:
        """Best-effort cleanup whatever state the test left it in: our own pids only."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in self.children:
            if is_running(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
        if self.process.stdout is not None:
            self.process.stdout.close()
