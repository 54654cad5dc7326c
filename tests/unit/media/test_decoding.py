"""The decode pool: a pixel budget, first come first served, a bounded queue answered 503."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from agora.services.media.decoding import DecodePool, DecoderBusy, release_memory


def blocked(gate: threading.Event, started: list[str], name: str) -> Callable[[], str]:
    def work() -> str:
        started.append(name)
        assert gate.wait(10)
        return name

    return work


async def running(pool: DecodePool, pixels: int, work: Callable[[], str]) -> asyncio.Task[str]:
    """``pool.run`` as a task, once its work has started on a decode thread."""
    entered = threading.Event()

    def signalled() -> str:
        entered.set()
        return work()

    task = asyncio.create_task(pool.run(pixels, signalled))
    assert await asyncio.to_thread(entered.wait, 10)
    return task


async def queued(pool: DecodePool, pixels: int, work: Callable[[], str]) -> asyncio.Task[str]:
    """``pool.run`` as a task that has joined the queue (it runs to its first wait at once)."""
    task = asyncio.create_task(pool.run(pixels, work))
    await asyncio.sleep(0)
    return task


async def test_the_budget_is_shared_in_arrival_order() -> None:
    pool = DecodePool(threads=4, budget_pixels=100, queue=10, wait_seconds=10)
    gate, started = threading.Event(), []
    try:
        first = await running(pool, 60, blocked(gate, started, "first"))
        big = await queued(pool, 70, blocked(gate, started, "big"))
        small = await queued(pool, 10, blocked(gate, started, "small"))
        assert pool.waiting == 2
        # 10 pixels would fit beside the first, but the big one came before it
        assert (pool.in_use, started) == (60, ["first"])
        gate.set()
        assert await asyncio.gather(first, big, small) == ["first", "big", "small"]
        assert started.index("big") < started.index("small")
        assert (pool.in_use, pool.waiting) == (0, 0)
    finally:
        gate.set()
        await pool.close()


async def test_a_full_queue_and_a_long_wait_are_503_with_retry_after() -> None:
    pool = DecodePool(threads=2, budget_pixels=100, queue=1, wait_seconds=0.3)
    gate, started = threading.Event(), []
    try:
        huge = await running(pool, 1000, blocked(gate, started, "huge"))  # larger than the whole budget
        assert pool.in_use == 100  # it runs alone
        waiting = await queued(pool, 5, blocked(gate, started, "waits"))
        assert pool.waiting == 1
        with pytest.raises(DecoderBusy) as full:
            await pool.run(5, blocked(gate, started, "refused"))
        assert full.value.status == 503
        assert int(full.value.headers["Retry-After"]) >= 1
        with pytest.raises(DecoderBusy):
            await waiting  # waited longer than wait_seconds
        assert pool.waiting == 0
        gate.set()
        assert await huge == "huge"
        assert started == ["huge"]
        assert pool.in_use == 0
    finally:
        gate.set()
        await pool.close()


async def test_a_failing_decode_gives_its_pixels_back() -> None:
    pool = DecodePool(threads=1, budget_pixels=100, queue=1, wait_seconds=5)

    def fails() -> None:
        raise ValueError("damaged")

    try:
        with pytest.raises(ValueError, match="damaged"):
            await pool.run(100, fails)
        assert pool.in_use == 0
        assert await pool.run(100, lambda: "next") == "next"
    finally:
        await pool.close()


def test_release_memory_runs_anywhere() -> None:
    release_memory()  # glibc's malloc_trim here; nothing where there is none
