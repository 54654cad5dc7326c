"""Never oversold, never negative, no deadlock: concurrent reservations over HTTP, on every backend."""

from __future__ import annotations

import asyncio
from collections import Counter

from .conftest import API, Inventory, new_sku

CONCURRENT_REQUESTS = 200
ON_HAND = 10


async def _watch(inventory: Inventory, sku: str, done: asyncio.Event) -> list[dict[str, int]]:
    """Reads the sku's stock over HTTP until ``done``; every reading is kept for the assertions."""
    readings = []
    while not done.is_set():
        response = await inventory.client.get(f"{API}/stock/{sku}")
        assert response.status_code == 200, response.text
        readings.append(response.json())
    return readings


async def test_two_hundred_concurrent_reservations_hold_exactly_the_stock(inventory: Inventory) -> None:
    sku = new_sku("HOT")
    await inventory.set_stock(sku, ON_HAND)
    before = await inventory.counts()

    done = asyncio.Event()
    watcher = asyncio.create_task(_watch(inventory, sku, done))
    try:
        responses = await asyncio.gather(*(inventory.reserve([(sku, 1)]) for _ in range(CONCURRENT_REQUESTS)))
    finally:
        done.set()
    readings = await watcher

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: ON_HAND, 409: CONCURRENT_REQUESTS - ON_HAND}, statuses
    for response in responses:
        if response.status_code == 409:
            problem = response.json()
            assert problem["sku"] == sku and problem["available"] == 0
            assert [error["field"] for error in problem["errors"]] == ["items[0].quantity"]
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": ON_HAND, "reserved": ON_HAND, "available": 0}

    # the reader saw the count move, and never a negative or oversold state
    assert readings, "the reader never got a reading"
    assert all(0 <= r["available"] and r["reserved"] <= r["on_hand"] == ON_HAND for r in readings), readings
    assert [r["reserved"] for r in readings] == sorted(r["reserved"] for r in readings)

    after = await inventory.counts()
    assert after["reservations"] == before["reservations"] + ON_HAND
    assert after["reservation_items"] == before["reservation_items"] + ON_HAND
    assert after["outbox"] == before["outbox"] + ON_HAND  # one reserved event per hold, none for refusals


async def test_multi_sku_reservations_in_opposite_orders_do_not_deadlock(inventory: Inventory) -> None:
    a, b, c = new_sku("PAIR"), new_sku("PAIR"), new_sku("PAIR")
    for sku in (a, b, c):
        await inventory.set_stock(sku, 1000)
    orders = [[a, b, c], [c, b, a], [b, a, c], [c, a, b]]
    responses = await asyncio.gather(
        *(inventory.reserve([(sku, 1) for sku in orders[index % len(orders)]]) for index in range(80))
    )
    assert Counter(response.status_code for response in responses) == {201: 80}, [
        response.text for response in responses if response.status_code != 201
    ]
    for sku in (a, b, c):
        assert (await inventory.stock(sku))["reserved"] == 80


async def test_contended_multi_sku_reservations_are_all_or_nothing(inventory: Inventory) -> None:
    """Ten units each, forty shoppers wanting one of each in opposite orders: ten win, thirty hold nothing."""
    a, b = new_sku("DUO"), new_sku("DUO")
    await inventory.set_stock(a, 10)
    await inventory.set_stock(b, 10)
    responses = await asyncio.gather(
        *(inventory.reserve([(a, 1), (b, 1)] if index % 2 else [(b, 1), (a, 1)]) for index in range(40))
    )
    assert Counter(response.status_code for response in responses) == {201: 10, 409: 30}
    assert (await inventory.stock(a))["reserved"] == 10
    assert (await inventory.stock(b))["reserved"] == 10
