"""Keeping ``mamori run``'s processes up: a child that dies is started again, with backoff.

One crashed service used to stop the whole suite. Now the launcher's loop asks
:meth:`Supervisor.check` a few times a second; a child that exited is started again after a
delay that doubles with each consecutive crash (``MAMORI_RESTART_FIRST_DELAY_SECONDS``, 1 s, up to
``MAMORI_RESTART_MAX_DELAY_SECONDS``, 30 s), so a process that cannot start does not spin the
machine; one that stayed up for ``MAMORI_RESTART_STABLE_SECONDS`` (60 s) starts from the first
delay again. Each exit and each restart is said on the log. Ctrl-C and SIGTERM still stop
everything: the launcher stops supervising, then stops every child.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic_settings import BaseSettings, SettingsConfigDict


class RestartSettings(BaseSettings):
    """``MAMORI_RESTART_*``: how patiently a crashed child is started again."""

    model_config = SettingsConfigDict(env_prefix="MAMORI_RESTART_", extra="ignore")

    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0
    stable_seconds: float = 60.0

    def delay(self, consecutive_crashes: int) -> float:
        """Seconds to wait before the restart after the ``consecutive_crashes``-th crash in a row."""
        exponent = max(0, consecutive_crashes - 1)
        return float(min(self.max_delay_seconds, self.first_delay_seconds * 2**exponent))


@dataclass
class Supervised:
    """A child the supervisor keeps running: its name, its address and how to start it again."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    respawn: Callable[[], subprocess.Popen[bytes]]
    started_at: float = 0.0
    crashes_in_a_row: int = 0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Restarts the children that exited; ``say`` writes the log line each event gets."""

    children: list[Supervised]
    say: Callable[[str], None]
    settings: RestartSettings = field(default_factory=RestartSettings)
    clock: Callable[[], float] = time.monotonic

    def check(self) -> None:
        now = self.clock()
        for child in self.children:
            if child.process.poll() is None:
                if child.crashes_in_a_row and now - child.started_at >= self.settings.stable_seconds:
                    child.crashes_in_a_row = 0
                continue
            if child.restart_at is None:
                child.crashes_in_a_row += 1
                delay = self.settings.delay(child.crashes_in_a_row)
                child.restart_at = now + delay
                self.say(
                    f"{child.name} ({child.url}) exited with code {child.process.returncode}; "
                    f"restarting it in {delay:.1f}s (crash {child.crashes_in_a_row} in a row)"
                )
            elif now >= child.restart_at:
                child.process = child.respawn()
                child.started_at = now
                child.restart_at = None
                child.restarts += 1
                self.say(f"{child.name} ({child.url}) restarted (pid {child.process.pid})")
