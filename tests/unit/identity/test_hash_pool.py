"""Password hashing off the event loop: the loop keeps running while a hash is computed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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


#: Run in a fresh interpreter (the allocator's state is per process): identity's pool, as its
#: runtime builds it, hashes once, then verifies three times; prints how much more is resident
#: after the verifications than before them.
_AFTER_THREE_LOGINS = """
import asyncio, sys
from pathlib import Path
from agora.platform import memory
from agora.services.identity.runtime import build_passwords
from agora.services.identity.settings import IdentitySettings

def rss():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024

if sys.argv[1] == "as-glibc-left-it":
    memory.keep_large_blocks_out_of_arenas = lambda: False

async def main():
    passwords = build_passwords(IdentitySettings(password_hash_threads=1))
    stored = await passwords.hash_in_pool("a long enough secret")
    before = rss()
    for _ in range(3):
        assert await passwords.verify_in_pool(stored, "a long enough secret")
    print(rss() - before)
    await passwords.close()

asyncio.run(main())
"""


def retained_after_three_logins(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_THREE_LOGINS, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout.strip())


def test_hashing_keeps_no_argon2_memory_resident() -> None:
    """The first hash's 19 MiB block is mapped; freeing it raised glibc's mmap threshold past it,
    so every later hash's block came from the hash thread's arena and stayed resident there.
    identity's pool fixes the thresholds (``large_blocks``), so each block is unmapped when freed."""
    assert retained_after_three_logins("as-glibc-left-it") >= 16 * 2**20  # the fault this guards against
    assert retained_after_three_logins("fixed") <= 2 * 2**20
