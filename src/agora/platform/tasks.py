"""Periodic background work owned by a service: sweeps, recovery, clean-up.

A service lists its tasks in ``ServiceSpec.periodic``; the chassis starts them with the relay and
the consumers and stops them at shutdown. Each run is isolated: an exception is logged and
counted and the next run happens on schedule, so one bad sweep never kills the process. Runs are
spaced by ``interval`` plus up to 10% jitter, so replicas started together do not sweep in step.

A task made with ``idle_factor`` > 1 backs off like the outbox relay: while its runs find nothing
(``run`` returns a falsy value: 0, False, None) the pause doubles, up to ``idle_factor``
intervals; a run that found something brings it back to one interval. Only work whose arrival is
handled elsewhere may back off this way (new mail is sent when its event commits). Embedded mode
runs fifteen services' tasks in one process: at their plain intervals they were most of an idle
``agora up``'s CPU (issue 16).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from agora.platform.observability.metrics import task_duration_seconds, task_runs_total

log = structlog.get_logger(__name__)


@dataclass
class PeriodicTask:
    """``run`` every ``interval`` seconds, the first time as soon as the service starts."""

    name: str
    interval: float
    run: Callable[[], Awaitable[object]]
    jitter: float = 0.1
    idle_factor: int = 1
    """The longest pause while runs find nothing, in intervals (1: always ``interval``)."""
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _running: bool = field(default=False, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)
    _found: bool = field(default=True, init=False, repr=False)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"periodic:{self.name}")

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stops the loop: a run in progress may finish (up to ``grace`` seconds) so its
        transaction ends cleanly instead of being cut inside a database call; a sleep is cut at once."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._running:
            await asyncio.wait({task}, timeout=grace)
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def run_once(self) -> bool:
        """One run, outcome logged and counted; True when it succeeded."""
        start = time.perf_counter()
        try:
            self._found = bool(await self.run())
        except asyncio.CancelledError:
            raise
        except Exception:
            self._found = True  # a failure is not "nothing to do": retried after one interval
            task_runs_total.labels(self.name, "error").inc()
            log.exception("periodic_task_failed", task=self.name)
            return False
        finally:
            task_duration_seconds.labels(self.name).observe(time.perf_counter() - start)
        task_runs_total.labels(self.name, "ok").inc()
        return True

    def _pause(self, empty_runs: int) -> float:
        """One interval after a run that found something, doubling with each run that found
        nothing, up to ``idle_factor`` intervals; jittered."""
        factor = min(self.idle_factor, 1 << max(empty_runs - 1, 0)) if self.idle_factor > 1 else 1
        return self.interval * factor * (1 + random.uniform(0, self.jitter))

    async def _loop(self) -> None:
        empty_runs = 0
        while not self._stopping:
            self._running = True
            try:
                await self.run_once()
            finally:
                self._running = False
            if self._stopping:
                return
            empty_runs = 0 if self._found else empty_runs + 1
            await asyncio.sleep(self._pause(empty_runs))


__all__ = ["PeriodicTask"]


class BackgroundWork:
    """Fire-and-forget work a service starts from a request or a handler (after-commit pushes,
    cache invalidation): each task is referenced until it ends, tests await :meth:`settled`, and
    shutdown cancels what is still running."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settled(self) -> None:
        """Returns once the work spawned so far (and whatever it spawned) has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
