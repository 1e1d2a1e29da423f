"""Background jobs stop when their app stops (mamori_common.background, the lifespan in mamori_common.app).

What a user relies on: stopping a service (a deploy, a test client leaving its ``with`` block)
always ends, even when a commit rang the dispatcher's or mail sender's doorbell at the very moment
of shutdown: the race that left the suite hanging in ``TestClient.__exit__``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mamori_common.background import Doorbell, stop_tasks
from services.auth import main as auth_main
from services.auth.config import AuthSettings

#: Far longer than any healthy shutdown; only turns a hang into a failure.
HANG = 30.0


def _watch_rounds(dispatch: Callable[[httpx.AsyncClient], Any], rounds: asyncio.Queue[int]) -> Any:
    """Wrap a dispatcher's ``dispatch_once`` so the test knows when it has gone back to sleep."""

    async def counted(client: httpx.AsyncClient) -> int:
        handled = int(await dispatch(client))
        rounds.put_nowait(handled)
        return handled

    return counted


def test_an_app_stops_when_a_commit_wakes_its_dispatcher_as_it_shuts_down(data_dir: Path) -> None:
    settings = AuthSettings(data_dir=data_dir, outbox_poll_interval=3600, mail_poll_interval_seconds=3600)
    app: FastAPI = auth_main.create_app(settings, migrate=True)
    dispatcher = app.state.dispatcher

    async def scenario() -> bool:
        rounds: asyncio.Queue[int] = asyncio.Queue()
        dispatcher.dispatch_once = _watch_rounds(dispatcher.dispatch_once, rounds)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        assert await asyncio.wait_for(rounds.get(), HANG) == 0  # it found nothing and sleeps an hour
        dispatcher.wake()  # a request's commit, from its worker thread...
        await asyncio.sleep(0)  # ...lands in the same loop turn as the shutdown below
        stopping = asyncio.create_task(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait([stopping], timeout=HANG)
        if not done:
            stopping.cancel()
        return stopping in done

    assert asyncio.run(scenario()), "the app's shutdown hung waiting for its dispatcher"
    assert dispatcher.wake() is None  # stopped: ringing a stopped dispatcher is harmless


def test_a_doorbell_wait_never_swallows_a_cancellation_rung_in_the_same_turn() -> None:
    async def scenario() -> bool:
        bell = Doorbell()
        bell.listen()

        async def sleeper() -> None:
            while True:
                await bell.wait(3600)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0)
        bell.ring()
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=HANG)
        return task in done and task.cancelled()

    assert asyncio.run(scenario())


def test_a_rung_doorbell_ends_the_wait_before_its_timeout() -> None:
    async def scenario() -> None:
        bell = Doorbell()
        bell.listen()
        waiting = asyncio.create_task(bell.wait(3600))
        await asyncio.sleep(0)
        bell.ring()
        await asyncio.wait_for(waiting, HANG)

    asyncio.run(scenario())


def test_ringing_a_doorbell_nobody_listens_on_does_nothing() -> None:
    bell = Doorbell()
    bell.ring()
    assert not bell.listening


def test_stop_tasks_cancels_again_a_job_that_swallowed_its_cancellation() -> None:
    async def stubborn() -> None:
        swallowed = False
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True  # as asyncio.wait_for did on Python 3.11

    async def scenario() -> tuple[list[asyncio.Task[None]], bool]:
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        left = await stop_tasks([task], grace_seconds=HANG)
        return left, task.cancelled()

    left, cancelled = asyncio.run(scenario())
    assert left == [] and cancelled


def test_stop_tasks_gives_up_on_a_job_that_never_stops_instead_of_hanging(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        released = False

        async def stuck() -> None:  # like a job blocked in a thread: deaf to cancellation for now
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if released:
                        raise

        task = asyncio.create_task(stuck(), name="stuck")
        await asyncio.sleep(0)
        left = await stop_tasks([task], grace_seconds=0.3)
        released = True
        task.cancel()
        return [item.get_name() for item in left]

    with caplog.at_level("ERROR", logger="mamori.background"):
        assert asyncio.run(scenario()) == ["stuck"]
    assert any("did not stop in time" in record.getMessage() for record in caplog.records)
