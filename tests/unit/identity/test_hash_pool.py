"""Password hashing off the event loop: the loop keeps running while a hash is computed."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import pytest

from agora.platform.workers import WorkerPool
from agora.services.identity.passwords import Passwords


@pytest.fixture
async def pooled() -> AsyncIterator[Passwords]:
    pool = WorkerPool(threads=1, budget=1, queue=4, wait_seconds=10, name="test-hash")
    passwords = Passwords(memory_kib=19_456, time_cost=2, parallelism=1, pool=pool)
    yield passwords
    await passwords.close()


async def loop_turns_while(job: asyncio.Task[object]) -> int:
    turns = 0
    while not job.done():
        await asyncio.sleep(0)
        turns += 1
    return turns


async def test_the_loop_runs_while_a_password_is_verified(pooled: Passwords) -> None:
    stored = await pooled.hash_in_pool("a long enough secret")
    verifying = asyncio.create_task(pooled.verify_in_pool(stored, "a long enough secret"))
    # an argon2 verification takes ~19 ms of CPU: computed on the loop, it would finish before
    # the loop turned even once; on the pool's thread the loop turns many times meanwhile
    assert await loop_turns_while(verifying) > 20
    assert verifying.result() is True
    assert not await pooled.verify_in_pool(stored, "a long enough secreT")
    assert not await pooled.verify_in_pool(None, "agora-dummy-password-never-matches")


async def test_the_same_hashes_without_a_pool() -> None:
    passwords = Passwords(memory_kib=19_456, time_cost=2, parallelism=1)
    stored = await passwords.hash_in_pool("a long enough secret")
    assert passwords.verify(stored, "a long enough secret")
    assert await passwords.verify_in_pool(stored, "a long enough secret")


async def test_pool_threads_run_below_the_event_loop(pooled: Passwords) -> None:
    assert pooled.pool is not None
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    there = await pooled.pool.run(1, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert there == min(19, here + 10)
