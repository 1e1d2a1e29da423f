"""Functions the sandbox tests run in the scan's child process (importable there by name)."""

from __future__ import annotations

import time

from mamori_common.problems import Problem


def spin() -> None:
    """Burns CPU until the kernel stops the process."""
    total = 0
    while True:
        total += 1


def allocate(megabytes: int) -> int:
    """Holds ``megabytes`` MB (touched, so they are really there), then answers how many."""
    held = bytearray(megabytes * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])
    return megabytes


def refuse() -> None:
    raise Problem(422, "file_corrupt", "The PDF is damaged and cannot be read.", page=2)


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
