"""Background jobs inside a service: the doorbell a poll loop sleeps on, and stopping jobs in bounded time.

Why this module exists: the outbox dispatcher and the mail sender used to sleep with
``asyncio.wait_for(event.wait(), timeout)``. On Python 3.11 ``wait_for`` swallows a cancellation
that lands in the same loop turn as the event being set (it returns the event's result instead of
raising ``CancelledError``), so an app shutting down right after a commit rang the bell cancelled
its dispatcher, the dispatcher went round its loop as if woken, and the lifespan awaited it
forever. :class:`Doorbell` waits with ``asyncio.timeout``, which never loses a cancellation, and
:func:`stop_tasks` gives every job a bounded time to stop, cancelling again any job that
swallowed a cancellation (any library a job calls might), so a shutdown always ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

logger = logging.getLogger("mamori.background")

#: How often :func:`stop_tasks` cancels again a job that has not stopped yet, in seconds.
_RECANCEL_SECONDS = 0.1


class Doorbell:
    """Wakes one poll loop early: rung from any thread, waited on with a timeout, safe to cancel.

    Only the loop that :meth:`listen`\\ s can be woken; ringing before or after that is a no-op
    (the loop's next pass finds the work anyway), and ringing never raises, because it runs in a
    committed transaction's ``after_commit`` hook.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    @property
    def listening(self) -> bool:
        return self._event is not None

    def listen(self) -> None:
        """Bind to the running loop; called by the poll loop when it starts."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def close(self) -> None:
        """Unbind; called by the poll loop when it ends."""
        self._loop = self._event = None

    def ring(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        """Return when rung or after ``timeout`` seconds; a cancellation always propagates."""
        event = self._event
        if event is None:
            raise RuntimeError("wait() before listen()")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
        event.clear()


async def stop_tasks(tasks: Iterable[asyncio.Task[None]], *, grace_seconds: float) -> list[asyncio.Task[None]]:
    """Cancel ``tasks`` and wait at most ``grace_seconds`` for them to end; return those still running.

    A task that swallowed its cancellation is cancelled again until it ends or the grace runs out.
    A task blocked in a thread (a slow database call) cannot be interrupted: it is left behind and
    logged rather than holding the shutdown forever.
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_seconds
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        _done, pending = await asyncio.wait(pending, timeout=min(remaining, _RECANCEL_SECONDS))
        for task in pending:
            task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.error("background job failed", exc_info=task.exception(), extra={"job": task.get_name()})
    for task in pending:
        logger.error("background job did not stop in time", extra={"job": task.get_name(), "grace": grace_seconds})
    return sorted(pending, key=lambda task: task.get_name())
