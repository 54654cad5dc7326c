"""Periodic tasks: first run at once, failures survive, a stop lets a run finish but cuts a sleep;
an idle task backs off, and a run that finds something ends the back-off."""

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


class _RecordingPauses(PeriodicTask):
    """Records the loop's count of runs that found nothing, and pauses for no time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.empty_runs: list[int] = []

    def _pause(self, empty_runs: int) -> float:
        self.empty_runs.append(empty_runs)
        return 0.0


async def test_the_pause_doubles_while_runs_find_nothing_up_to_the_idle_factor() -> None:
    task = PeriodicTask("test.idle", 2.0, lambda: asyncio.sleep(0), jitter=0.0, idle_factor=8)
    assert [task._pause(n) for n in range(6)] == [2.0, 2.0, 4.0, 8.0, 16.0, 16.0]
    plain = PeriodicTask("test.plain", 2.0, lambda: asyncio.sleep(0), jitter=0.0)
    assert {plain._pause(n) for n in range(6)} == {2.0}


async def test_a_run_that_finds_something_ends_the_back_off() -> None:
    found = [0, False, None, 3, 0]
    done = asyncio.Event()

    async def run() -> object:
        result = found.pop(0) if found else 0
        if not found:
            done.set()
        return result

    task = _RecordingPauses("test.found", 1.0, run, idle_factor=4)
    task.start()
    await asyncio.wait_for(done.wait(), 5)
    await task.stop()
    assert task.empty_runs[:5] == [1, 2, 3, 0, 1]
