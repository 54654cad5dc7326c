"""The decode pool: how many pixels the media service decodes at once, and who waits for it.

A decoded picture costs about 4 bytes a pixel whatever its file weighs: a 128 KB PNG of
6300x6300 is 160 MB once decoded. Uploads therefore do not decode as they arrive. Each asks the
pool for as many pixels as its header declares (:func:`imaging.inspect`, before decoding; a WebP
counts four times, see ``imaging.DECODE_WEIGHT``):

* at most ``decode_budget_pixels`` are decoded at once across all uploads (an image larger than
  the whole budget runs alone), on at most ``decode_threads`` threads of the pool's own;
* admission is first come, first served: a small image does not overtake a big one that waits;
* at most ``decode_queue`` uploads wait; one more, or one that waited ``decode_wait_seconds``,
  is answered 503 with ``Retry-After`` at once, instead of holding its bytes while memory piles up.

Memory goes back after each decode: see :func:`release_memory`.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import structlog

from agora.platform.http.problems import ServiceUnavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: What a refused upload is told to wait: about one large decode.
RETRY_AFTER_SECONDS = 5


class DecoderBusy(ServiceUnavailable):
    """503: the decode budget is taken and its queue full (or waited on for too long)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            extra={"retry_after": RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    library = ctypes.util.find_library("c")
    libc = ctypes.CDLL(library) if library else None
    trim = getattr(libc, "malloc_trim", None)  # glibc only (musl has none)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_memory() -> None:
    """Hands the memory a decode freed back to the system (glibc's ``malloc_trim``).

    Pillow allocates a bitmap in 16 MB blocks with ``malloc``. glibc serves the first such block
    with ``mmap`` and unmaps it on ``free``, but then raises its mmap threshold to that size, so
    later blocks come from the arenas (one per decode thread), whose freed memory glibc keeps for
    reuse. No Python or Pillow API returns it; ``malloc_trim(0)`` walks every arena and
    ``madvise``s its free pages away in a few milliseconds. Measured with eight concurrent
    6300x6300 uploads to ``agora serve media``: 58 MB stayed resident above the start without it,
    9 MB with it (the same peak either way). A recycled worker process would give everything back
    but costs a spawned interpreter with Pillow per recycling, for the last few MB. Elsewhere than
    glibc (musl) this does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class DecodePool:
    """Runs decodes within a pixel budget on its own threads (see the module's docstring)."""

    def __init__(self, *, threads: int, budget_pixels: int, queue: int, wait_seconds: float) -> None:
        self.budget = budget_pixels
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="media-decode")

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def run(self, pixels: int, work: Callable[[], T]) -> T:
        """``work()`` on a decode thread once ``pixels`` of the budget are free; :class:`DecoderBusy` else."""
        cost = max(1, min(pixels, self.budget))
        await self._acquire(cost)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._release_after, work)
        finally:
            self._give_back(cost)

    @staticmethod
    def _release_after(work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            release_memory()

    async def _acquire(self, cost: int) -> None:
        if not self._waiting and self.in_use + cost <= self.budget:
            self.in_use += cost
            return
        if len(self._waiting) >= self.queue:
            raise DecoderBusy("Too many images are being processed right now; try again in a few seconds.")
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
                raise DecoderBusy("Images are waiting too long to be processed; try again in a few seconds.") from None
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


__all__ = ["RETRY_AFTER_SECONDS", "DecodePool", "DecoderBusy", "release_memory"]
