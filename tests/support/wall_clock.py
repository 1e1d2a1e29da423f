"""A wall clock tests move by hand, for the ``limits`` library's in-memory windows.

``limits`` reads ``time.time()`` itself, so a window running out could only be shown by sleeping.
This replaces the ``time`` module that ``limits.storage.memory`` sees (and nothing else) with one
whose ``time()`` the test sets.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest


class WallClock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    import limits.storage.memory as memory

    clock = WallClock()
    monkeypatch.setattr(memory, "time", SimpleNamespace(time=clock.time, sleep=time.sleep))
    return clock
