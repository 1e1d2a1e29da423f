"""Spreading one service's traffic over its replicas, and passing over the ones that are down.

Round robin needs no shared state between gateway processes and is fair when replicas are alike,
which they are (same code, same database). Health is passive: a replica that refused a
connection is skipped for a cool-down, with no probe traffic. When every replica is cooling down
they are all tried anyway: a refused connection costs microseconds, and this is what lets a
deployment of one replica recover the moment it comes back.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(eq=False)
class Replica:
    """One base URL of a service, and until when it is passed over."""

    url: str
    down_until: float = 0.0


class ReplicaSet:
    """The replicas of one service, handed out round robin, healthy ones first."""

    def __init__(
        self,
        service: str,
        urls: Sequence[str],
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError(f"{service} has no upstream")
        self.service = service
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self.cooldown = cooldown
        self._clock = clock
        self._turn = itertools.count()

    def candidates(self) -> list[Replica]:
        """Every replica, in the order to try them for the next request."""
        replicas = self.replicas
        if len(replicas) == 1:
            return replicas
        start = next(self._turn) % len(replicas)
        rotated = replicas[start:] + replicas[:start]
        now = self._clock()
        healthy = [replica for replica in rotated if replica.down_until <= now]
        if len(healthy) == len(rotated):
            return rotated
        return healthy + [replica for replica in rotated if replica.down_until > now]

    def mark_down(self, replica: Replica) -> None:
        replica.down_until = self._clock() + self.cooldown

    def mark_up(self, replica: Replica) -> None:
        replica.down_until = 0.0
