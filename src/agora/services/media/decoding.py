"""The decode pool: how many pixels the media service decodes at once, and who waits for it.

A decoded picture costs about 4 bytes a pixel whatever its file weighs: a 128 KB PNG of
6300x6300 is 160 MB once decoded. Uploads therefore do not decode as they arrive. Each asks the
pool for as many pixels as its header declares (:func:`imaging.inspect`, before decoding; a WebP
counts four times, see ``formats.DECODE_WEIGHT``):

* at most ``decode_budget_pixels`` are decoded at once across all uploads (an image larger than
  the whole budget runs alone), on at most ``decode_threads`` threads of the pool's own;
* admission is first come, first served: a small image does not overtake a big one that waits;
* at most ``decode_queue`` uploads wait; one more, or one that waited ``decode_wait_seconds``,
  is answered 503 with ``Retry-After`` at once, instead of holding its bytes while memory piles up.

The admission is the chassis's :class:`~agora.platform.workers.WorkerPool` (identity hashes
passwords on one too); the decode threads release the GIL in Pillow, so the event loop serves
other requests meanwhile.

Memory goes back after each decode: the pool keeps bitmap blocks out of glibc's arenas and hands
back what a decode freed (:mod:`agora.platform.memory`, which says why both are needed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from agora.platform.http.problems import ServiceUnavailable
from agora.platform.memory import release_free_memory
from agora.platform.workers import WorkerPool

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


class DecodePool(WorkerPool):
    """The chassis's :class:`WorkerPool` with pixels as the cost: decodes within a pixel budget on
    their own threads, memory given back after each (see the module's docstring). Creating one
    fixes the process's allocator thresholds (``large_blocks``: Pillow's 16 MB bitmap blocks)."""

    retry_after_seconds = RETRY_AFTER_SECONDS

    def __init__(self, *, threads: int, budget_pixels: int, queue: int, wait_seconds: float) -> None:
        super().__init__(
            threads=threads,
            budget=budget_pixels,
            queue=queue,
            wait_seconds=wait_seconds,
            name="media-decode",
            large_blocks=True,
        )

    def busy(self, *, waited: bool) -> Exception:
        if waited:
            return DecoderBusy("Images are waiting too long to be processed; try again in a few seconds.")
        return DecoderBusy("Too many images are being processed right now; try again in a few seconds.")

    def call(self, work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            release_free_memory()


__all__ = ["RETRY_AFTER_SECONDS", "DecodePool", "DecoderBusy"]
