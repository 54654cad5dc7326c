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

Memory goes back after each decode: see :func:`keep_bitmaps_out_of_arenas` and
:func:`release_memory`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import TypeVar

import structlog

from agora.platform.http.problems import ServiceUnavailable
from agora.platform.workers import WorkerPool

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: What a refused upload is told to wait: about one large decode.
RETRY_AFTER_SECONDS = 5

#: glibc's ``mallopt`` parameters (malloc.h) and the values media fixes them at.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Allocations from this size up get their own mapping, unmapped when freed: bitmaps, codec
#: canvases, request bodies. glibc's default is 128 KiB, raised on its own (below).
MMAP_THRESHOLD = 1024 * 1024
#: Free memory above this at the top of an arena is handed back when a free makes it so.
TRIM_THRESHOLD = 1024 * 1024


class DecoderBusy(ServiceUnavailable):
    """503: the decode budget is taken and its queue full (or waited on for too long)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            extra={"retry_after": RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        )


@functools.cache
def _libc() -> ctypes.CDLL | None:
    library = ctypes.util.find_library("c")
    return ctypes.CDLL(library) if library else None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    trim = getattr(_libc(), "malloc_trim", None)  # glibc only (musl has none)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


@functools.cache
def keep_bitmaps_out_of_arenas() -> bool:
    """Fixes glibc's mmap and trim thresholds at 1 MiB for the process; True where it took.

    Why: glibc starts with a 128 KiB mmap threshold, but each time a mapped block is freed it
    raises the threshold to that block's size (up to 32 MiB) and the trim threshold to twice it.
    One 30 MiB request body, or one 27 MB bitmap, is enough: from then on Pillow's 16 MB bitmap
    blocks are carved from the arenas of the decode threads, and an arena gives back the free
    memory at its top only once there is more of it than the trim threshold (up to 64 MiB per
    arena). :func:`release_memory` cannot help: ``malloc_trim`` returns free chunks inside an
    arena, not an arena's top. That was the 1.71x growth of ``agora up``'s resident memory under
    the hostile load of ``benchmarks/hostile_memory.py`` (docs/performance.md): the thread arenas
    grew from 33 to 95 MB and stayed there. Fixed thresholds (setting them turns the raising
    off) keep every large block in a mapping of its own, unmapped on free, and arenas trimmed
    past 1 MiB. The price is an ``mmap``/``munmap`` per allocation of 1 MiB or more anywhere in
    the process (a large decode makes a few dozen). Elsewhere than glibc: nothing is done.
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    if not took:
        log.warning("malloc_thresholds_not_set")
    return took


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


class DecodePool(WorkerPool):
    """The chassis's :class:`WorkerPool` with pixels as the cost: decodes within a pixel budget on
    their own threads, memory given back after each (see the module's docstring). Creating one
    fixes the process's allocator thresholds (:func:`keep_bitmaps_out_of_arenas`)."""

    retry_after_seconds = RETRY_AFTER_SECONDS

    def __init__(self, *, threads: int, budget_pixels: int, queue: int, wait_seconds: float) -> None:
        super().__init__(
            threads=threads, budget=budget_pixels, queue=queue, wait_seconds=wait_seconds, name="media-decode"
        )
        keep_bitmaps_out_of_arenas()

    def busy(self, *, waited: bool) -> Exception:
        if waited:
            return DecoderBusy("Images are waiting too long to be processed; try again in a few seconds.")
        return DecoderBusy("Too many images are being processed right now; try again in a few seconds.")

    def call(self, work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            release_memory()


__all__ = ["RETRY_AFTER_SECONDS", "DecodePool", "DecoderBusy", "keep_bitmaps_out_of_arenas", "release_memory"]
