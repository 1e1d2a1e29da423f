"""The scan runs in a child process with memory and CPU limits, a bounded number at a time.

pdfium and Pillow are C code fed by strangers: whatever :mod:`.bombs` does not see on the raw
bytes (a bomb written in a way its reader misses, a pathological image for the decoder) must
cost the child, never the service. Each scan is one fresh process forked from a small server
that has the scanning code loaded (``multiprocessing``'s ``forkserver``), so it starts in
milliseconds and shares nothing with the service's threads, and it gets:

- ``RLIMIT_AS`` (address space): an allocation past it fails inside the child (MemoryError, or
  pdfium aborts), and the child dies instead of the service growing to gigabytes;
- ``RLIMIT_CPU``: past it the kernel kills the child (SIGXCPU / SIGKILL); Tesseract, run by the
  child, inherits both limits;
- a wall-clock limit, after which the parent kills it.

A child that dies or overruns means the file is refused as ``422 decompression_bomb``: the
service stays up and the next upload is scanned as usual. At most ``max_concurrent_scans`` run at
once per service process; one more waits ``scan_queue_wait_seconds`` for a slot, then gets
``503 scanner_busy`` with Retry-After (the same answer on every replica, so clients just retry).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from mamori_common.problems import Problem
from services.verification.scanning.bombs import bomb

T = TypeVar("T")
logger = logging.getLogger("mamori.verification.sandbox")

#: Loaded once by the fork server, so each child starts with the parsers in memory.
PRELOAD = ["services.verification.documents.flows"]
#: Seconds a busy client is told to wait before trying again.
BUSY_RETRY_AFTER_SECONDS = 10


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int
    cpu_seconds: int
    wall_seconds: float
    max_concurrent: int
    queue_wait_seconds: float


@dataclass(frozen=True)
class ChildReport:
    """What the child says about itself at the end (for the bench and the log)."""

    peak_rss_kb: int
    cpu_seconds: float


def scanner_busy() -> Problem:
    return Problem(
        503,
        "scanner_busy",
        "Every document scanner is busy; try again in a few seconds.",
        title="Scanners busy",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        detail_ja="書類の確認が混み合っています。少し待ってからもう一度お送りください。",
        detail_en="Document checks are busy. Please wait a moment and send the file again.",
    )


_context_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
last_report: ChildReport | None = None


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    with _context_lock:
        context.set_forkserver_preload(PRELOAD)
    return context


def _slots_for(limit: int) -> threading.BoundedSemaphore:
    with _context_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


def _apply_limits(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, spent + cpu_seconds + 1))
    # Tesseract (run by the child) reserves an arena per thread; a few threads in a few arenas
    # keep its address space well inside the limit.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")


def _child(connection: Connection, limits: SandboxLimits, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Runs in the child: limits first, then ``function``; the answer goes back on ``connection``."""
    _apply_limits(limits.memory_bytes, limits.cpu_seconds)
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", function(*args))
    except Problem as problem:
        outcome = (
            "problem",
            (problem.status, problem.code, problem.detail, problem.title, problem.headers, problem.extra),
        )
    except MemoryError:
        outcome = ("bomb", "memory")
    except Exception as exc:  # a bug, not a bomb: the parent answers 500 and logs it
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = ChildReport(
        peak_rss_kb=max(usage.ru_maxrss, children.ru_maxrss),
        cpu_seconds=usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime,
    )
    connection.send((outcome, report))
    connection.close()


def run_sandboxed(function: Callable[..., T], *args: Any, limits: SandboxLimits) -> T:
    """``function(*args)`` in a limited child; its Problem is raised here, its death is a bomb.

    ``function`` must be importable at module level and its arguments and result picklable."""
    slots = _slots_for(limits.max_concurrent)
    if not slots.acquire(timeout=limits.queue_wait_seconds):
        raise scanner_busy()
    try:
        return _run(function, args, limits)
    finally:
        slots.release()


def _run(function: Callable[..., T], args: tuple[Any, ...], limits: SandboxLimits) -> T:
    global last_report
    last_report = None
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, limits, function, args), daemon=True)  # type: ignore[attr-defined]  # every context has Process
    process.start()
    sender.close()
    try:
        if not receiver.poll(limits.wall_seconds):
            logger.warning("scan overran %.0f s: child killed", limits.wall_seconds)
            raise bomb("The file takes far longer to open than any statement.")
        try:
            outcome, report = receiver.recv()
        except EOFError:
            process.join(5)
            logger.warning("scan child died (exit code %s): refused as a bomb", process.exitcode)
            raise bomb("The file needs far more memory or time to open than any statement.") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    last_report = report
    kind, value = outcome
    if kind == "problem":
        status, code, detail, title, headers, extra = value
        raise Problem(status, code, detail, title=title, headers=headers, **extra)
    if kind == "bomb":
        logger.warning("scan child ran out of memory: refused as a bomb")
        raise bomb("The file needs far more memory to open than any statement.")
    if kind == "error":
        raise RuntimeError(f"the scan failed in its child process: {value}")
    result: T = value
    return result
