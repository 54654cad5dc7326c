"""Large blocks freed on worker threads go back to the system (glibc's allocator, through ctypes).

Two services allocate blocks of megabytes on :class:`~agora.platform.workers.WorkerPool` threads
and free them a moment later: media's decodes (Pillow's 16 MB bitmap blocks) and identity's
password hashes (argon2id's 19 MiB memory cost, ``malloc``-ed by argon2-cffi's C code). glibc
starts with a 128 KiB mmap threshold, but each time a mapped block is freed it raises the threshold
to that block's size (up to 32 MiB) and the trim threshold to twice it. So the first such block is
mapped and unmapped, and every later one is carved from the calling thread's arena, whose free top
glibc hands back only past the (raised) trim threshold: it stays resident, one block per thread.
``malloc_trim`` cannot help there (it returns free chunks inside an arena, not an arena's top).

Measured: media's arenas grew from 33 to 95 MB under ``benchmarks/hostile_memory.py`` and stayed;
``agora serve identity`` grew from 102 to 144 MiB after twelve logins on two hash threads.
:func:`keep_large_blocks_out_of_arenas` fixes both thresholds (which turns the raising off); media
also calls :func:`release_free_memory` after each decode for the smaller chunks a decode frees.
No Python API reaches the allocator's settings, hence ctypes. Elsewhere than glibc (musl) both do
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

#: glibc's ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Allocations from this size up get their own mapping, unmapped when freed: bitmaps, codec
#: canvases, argon2 memory, request bodies. glibc's default is 128 KiB, raised on its own.
MMAP_THRESHOLD = 1024 * 1024
#: Free memory above this at the top of an arena is handed back when a free makes it so.
TRIM_THRESHOLD = 1024 * 1024


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
def keep_large_blocks_out_of_arenas() -> bool:
    """Fixes glibc's mmap and trim thresholds at 1 MiB for the process; True where it took.

    Every block of 1 MiB or more then gets a mapping of its own, unmapped when freed, and an
    arena's free top is handed back past 1 MiB (see the module's docstring for what happened
    without). The setting is the process's: ``mallopt`` has no per-thread or per-library form.
    That is fine wherever it is made, embedded mode (every service in one process) included:
    outside these pools the services rarely allocate a megabyte at once (a large request body
    or response), and what each such allocation pays is one ``mmap``/``munmap`` and the page
    faults of touching fresh pages: for an argon2id hash ~4 ms more CPU on top of ~25 ms
    (measured on this 2-core machine), the price of not keeping 19 MiB per hash thread.
    Called more than once (media and identity in one process), it sets the same values once.
    """
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    if not took:
        log.warning("malloc_thresholds_not_set")
    return took


def release_free_memory() -> None:
    """Hands the free memory inside glibc's arenas back to the system (``malloc_trim(0)``).

    ``malloc_trim(0)`` walks every arena and ``madvise``s its free pages away in a few
    milliseconds: what a job freed below 1 MiB a chunk, which no Python or library API returns.
    Measured with eight concurrent 6300x6300 uploads to ``agora serve media``: 58 MB stayed
    resident above the start without it, 9 MB with it (the same peak either way). Elsewhere than
    glibc this does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_large_blocks_out_of_arenas", "release_free_memory"]
