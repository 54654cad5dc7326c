"""CPU work off the event loop, on a pool of threads of its own, with admission and a bounded queue.

A request that hashes a password or decodes a picture must not stall every other request of the
process (in embedded mode, of every service) for the milliseconds the work takes. Such work runs
here on threads; the libraries doing it (argon2-cffi, Pillow) release the GIL while they compute,
so the event loop goes on serving meanwhile. What the pool bounds:

* **cost at once**: each job asks for a cost (1 a password hash, the pixels of a decode); at most
  ``budget`` runs at once (a job costing more than the whole budget runs alone), on at most
  ``threads`` threads. The budget is what bounds memory (a hash holds its argon2 memory, a decode
  its bitmap);
* **admission is first come, first served**: a cheap job does not overtake a costly one that waits;
* **waiting**: at most ``queue`` jobs wait, each at most ``wait_seconds``. One more, or one that
  waited that long, is refused at once with :meth:`WorkerPool.busy` (a 503 with ``Retry-After``),
  rather than piling up requests (and their memory) in an unbounded queue.

The pool's threads run ``nice`` (Linux: a thread has its own nice value): moving the work to a
thread frees the event loop only while a CPU is free for it. On a busy machine the kernel shares
the CPUs between runnable threads, and a hashing thread at the loop's priority took half of what
the loop would have had (measured with 20 logins in a loop on a loaded 2-core machine: a product
read's p99 went from 15 ms to 110 ms at nice 0). At nice 10 the loop's weight is ten times the
thread's, so the quick requests go first and the long job uses what is left.

Jobs that allocate and free blocks of megabytes (a password hash's memory, a bitmap) would
leave one such block resident in each pool thread's malloc arena: a pool made with
``large_blocks=True`` fixes the process's allocator thresholds so those blocks are unmapped when
freed (:func:`agora.platform.memory.keep_large_blocks_out_of_arenas`).

No library offers this admission (``asyncio.Semaphore`` has no cost per job and no bound on its
waiters; ``ThreadPoolExecutor``'s queue is unbounded), hence the few lines below.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import pickle
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from agora.platform import memory
from agora.platform.http.problems import ServiceUnavailable

T = TypeVar("T")


class PoolBusy(ServiceUnavailable):
    """503 with ``Retry-After``: the pool's budget is taken and its queue full, or waited on too long."""

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(
            detail,
            extra={"retry_after": retry_after_seconds},
            headers={"Retry-After": str(retry_after_seconds), "Cache-Control": "no-store"},
        )


class WorkerPool:
    """Runs blocking work within a cost budget on its own threads (see the module's docstring)."""

    #: what a refused caller is told to wait, in seconds
    retry_after_seconds = 1

    def __init__(
        self,
        *,
        threads: int,
        budget: int,
        queue: int,
        wait_seconds: float,
        name: str,
        nice: int = 10,
        large_blocks: bool = False,
    ) -> None:
        """``large_blocks``: the jobs allocate and free blocks of a megabyte or more; see the module's docstring."""
        if large_blocks:
            memory.keep_large_blocks_out_of_arenas()
        self.budget = budget
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=name, initializer=_lower_priority, initargs=(nice,)
        )

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def busy(self, *, waited: bool) -> Exception:
        """The refusal (``waited``: the job waited ``wait_seconds``; else the queue was full)."""
        reason = "waited too long for" if waited else "found no room in"
        return PoolBusy(
            f"The server is busy (this request {reason} its work queue); try again shortly.",
            retry_after_seconds=self.retry_after_seconds,
        )

    def call(self, work: Callable[[], T]) -> T:
        """Runs ``work`` on a pool thread; a subclass may wrap it (media gives memory back after)."""
        return work()

    async def run(self, cost: int, work: Callable[[], T]) -> T:
        """``work()`` on a pool thread once ``cost`` of the budget is free; :meth:`busy` else."""
        cost = max(1, min(cost, self.budget))
        await self._acquire(cost)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, work)
        finally:
            self._give_back(cost)

    async def _acquire(self, cost: int) -> None:
        if not self._waiting and self.in_use + cost <= self.budget:
            self.in_use += cost
            return
        if len(self._waiting) >= self.queue:
            raise self.busy(waited=False)
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (cost, granted)
        self._waiting.append(entry)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await granted
        except BaseException as exc:
            if granted.done() and not granted.cancelled():
                self._give_back(cost)  # granted just as the wait ended: hand it on
            else:
                self._waiting.remove(entry)
                self._admit()  # it may have been the head that held the others back
            if isinstance(exc, TimeoutError):
                raise self.busy(waited=True) from None
            raise

    def _give_back(self, cost: int) -> None:
        self.in_use -= cost
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self.in_use + self._waiting[0][0] <= self.budget:
            cost, granted = self._waiting.popleft()
            self.in_use += cost
            granted.set_result(None)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


#: What the child of :func:`in_fresh_interpreter` runs: call the function named in argv on the
#: arguments pickled on stdin, write the result pickled on stdout.
_CHILD = """
import importlib, pickle, sys
module, name = sys.argv[1].split(":")
arguments, options = pickle.loads(sys.stdin.buffer.read())
result = getattr(importlib.import_module(module), name)(*arguments, **options)
sys.stdout.buffer.write(pickle.dumps(result))
"""


async def in_fresh_interpreter(function: str, *arguments: Any, **options: Any) -> Any:
    """``module:function`` called with these arguments in a new interpreter that exits afterwards.

    For work that needs a library the service process should never keep: scikit-learn, SciPy and
    NumPy stay resident once imported (about 110 MB in ``agora up`` after one anomaly scoring)
    and a process never gives that back. A child costs a second or two of start-up and imports,
    which an admin's analysis can afford; its memory goes with it. Arguments and result travel
    as pickles between two processes of ours; a failure in the child is a RuntimeError here.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, function,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await child.communicate(pickle.dumps((arguments, options)))
    finally:
        if child.returncode is None:  # cancelled: the result is not wanted
            child.kill()
            await child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"{function} exited with {child.returncode}: {err.decode(errors='replace')[-2000:]}")
    return pickle.loads(out)  # noqa: S301 - written by our own child process just now


def _lower_priority(nice: int) -> None:
    """Raises this thread's nice value by ``nice`` (a pool thread's initializer; Linux only)."""
    if nice > 0 and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):  # another system, or a sandbox that refuses: run as is
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + nice))


__all__ = ["PoolBusy", "WorkerPool", "in_fresh_interpreter"]
