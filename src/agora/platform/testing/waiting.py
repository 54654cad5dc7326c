"""Waiting in tests for something that happens elsewhere (an event consumed, a relay run).

Where the test can await the event itself it should; where the effect lands in another service's
store there is nothing to await, so this polls with a deadline and fails with what it waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, within: float = 30.0, what: str = "", interval: float = 0.05
) -> T:
    """Calls ``check`` until it returns something truthy (and returns that), or fails after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g}s: {what or check}")
        await asyncio.sleep(interval)


def polled(check: Callable[[], T | None], *, within: float = 30.0, what: str = "", interval: float = 0.2) -> T:
    """:func:`eventually` for a test that drives another process from synchronous code."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g}s: {what or check}")
        time.sleep(interval)


__all__ = ["eventually", "polled"]
