"""Checkout admission: at most ``limit`` sagas at once, a bounded line behind them, then 503."""

from __future__ import annotations

import asyncio

import pytest

from agora.platform.db.pools import PoolSaturated
from agora.services.orders.saga import Admission


async def test_no_more_than_the_limit_run_at_once_and_the_rest_wait_in_order() -> None:
    admission = Admission(2, max_waiting=10)
    running = 0
    most = 0
    order: list[int] = []
    gate = asyncio.Event()

    async def checkout(number: int) -> None:
        nonlocal running, most
        async with admission.turn():
            running += 1
            most = max(most, running)
            order.append(number)
            await gate.wait()
            running -= 1

    tasks = [asyncio.create_task(checkout(number)) for number in range(6)]
    await asyncio.sleep(0)  # one pass of the loop: every task runs until it holds a turn or waits
    assert (running, admission.waiting) == (2, 4)
    gate.set()
    await asyncio.gather(*tasks)
    assert most == 2
    assert order == list(range(6))
    assert (running, admission.waiting) == (0, 0)


async def test_a_full_line_is_refused_at_once_and_a_turn_is_given_back_after_an_error() -> None:
    admission = Admission(1, max_waiting=1)
    gate = asyncio.Event()

    async def holder() -> None:
        async with admission.turn():
            await gate.wait()

    first = asyncio.create_task(holder())
    second = asyncio.create_task(holder())
    await asyncio.sleep(0)  # one pass: the first holds the turn, the second waits
    assert admission.waiting == 1
    with pytest.raises(PoolSaturated):
        async with admission.turn():
            pass
    gate.set()
    await asyncio.gather(first, second)

    with pytest.raises(RuntimeError):
        async with admission.turn():
            raise RuntimeError("the saga failed")
    async with admission.turn():  # the failed checkout's turn came back
        assert admission.waiting == 0
