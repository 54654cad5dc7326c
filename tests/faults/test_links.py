"""The link between orders and payments broken (the broker's outage is in test_broker_down.py)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fault_shop import FaultShop

pytestmark = [
    pytest.mark.faults,
    pytest.mark.backend("postgresql"),
    pytest.mark.backend("redis"),
    pytest.mark.backend("nats"),
    pytest.mark.timeout(300),
]


async def test_partition_between_orders_and_payments(shop: FaultShop) -> None:
    """Orders' calls to payments are slowed, then answered into the void (the charge happens, orders
    never hears of it), then cut; healed, every order is settled: paid with one charge, or failed
    with nothing charged."""

    async def breaks() -> None:
        shop.proxy.delay(1.0)
        await asyncio.sleep(4)  # slow link for a while, then worse
        shop.proxy.lose_answers()
        await asyncio.sleep(6)  # requests arrive, answers are lost: charges orders cannot see
        shop.proxy.cut()

    async def heals() -> None:
        shop.proxy.heal()

    figures = await shop.under_fault("partition orders-payments", breaks, heals, down_for=4)
    assert figures.failed_cleanly > 0, "the partition was seen by some checkouts"
