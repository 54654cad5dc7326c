"""Periodic tasks: first run at once, failures survive, a stop lets a run finish but cuts a sleep."""

from __future__ import annotations

import asyncio

from agora.platform.tasks import PeriodicTask


async def test_runs_at_once_and_survives_failures() -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("a bad sweep")
        if len(runs) == 3:
            third.set()

    task = PeriodicTask("test.survives", 0.01, run)
    task.start()
    await asyncio.wait_for(third.wait(), 5)
    await task.stop()
    assert runs[:3] == [0, 1, 2]


async def test_stop_lets_a_run_in_progress_finish() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def run() -> None:
        entered.set()
        await release.wait()
        finished.append(True)

    task = PeriodicTask("test.finishes", 60, run)
    task.start()
    await asyncio.wait_for(entered.wait(), 5)
    stopping = asyncio.create_task(task.stop(grace=5))
    await asyncio.sleep(0)  # the stop is waiting on the run, not cancelling it
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert finished == [True]


async def test_stop_cuts_a_sleep_and_a_run_past_its_grace() -> None:
    ran = asyncio.Event()

    async def quick() -> None:
        ran.set()

    sleeper = PeriodicTask("test.sleeper", 3600, quick)
    sleeper.start()
    await asyncio.wait_for(ran.wait(), 5)
    await asyncio.wait_for(sleeper.stop(), 1)  # asleep for an hour: stopped at once

    async def stuck() -> None:
        await asyncio.Event().wait()

    hung = PeriodicTask("test.hung", 1, stuck)
    hung.start()
    await asyncio.sleep(0)
    await asyncio.wait_for(hung.stop(grace=0.05), 2)
