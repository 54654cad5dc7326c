"""The last ten units, two hundred buyers: exactly ten paid orders, stock never below zero,
one charge per paid order and none for the rest (PostgreSQL and MariaDB, where writers really
run concurrently)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from agora.services.orders.models import Order
from agora.services.payments.models import Charge
from tests.support.stack import Stack

BUYERS = 200
UNITS = 10

pytestmark = pytest.mark.slow


@pytest.fixture(params=["postgresql", "mariadb"], scope="module")
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_two_hundred_buyers_for_the_last_ten_units(stack: Stack) -> None:
    admin = await stack.admin()
    product = (await stack.products(5))[4]
    buyers = await stack.users(BUYERS)
    for buyer in buyers:
        assert (await stack.add_to_cart(buyer, product["id"], 1)).status_code in (200, 201)
    await stack.set_stock(admin, product["sku"], UNITS)

    lowest = {"on_hand": UNITS, "available": UNITS}
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            stock = await stack.stock(product["sku"])
            for name in lowest:
                lowest[name] = min(lowest[name], stock[name])
            await asyncio.sleep(0)

    poller = asyncio.create_task(poll())
    try:
        responses = await asyncio.gather(*(stack.checkout(buyer) for buyer in buyers))
    finally:
        done.set()
        await poller

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: UNITS, 409: BUYERS - UNITS}, [r.text for r in responses if r.status_code >= 500][:3]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    stock = await stack.stock(product["sku"])
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (0, 0, 0)
    assert min(lowest.values()) >= 0

    paid = {r.json()["id"] for r in responses if r.status_code == 201}
    failed = {r.json()["order_id"] for r in responses if r.status_code == 409}
    assert await stack.count("orders", Order, Order.status == "paid") == UNITS
    assert await stack.count("orders", Order, Order.status == "failed") == BUYERS - UNITS
    captured = await stack.count("payments", Charge, Charge.status == "captured", Charge.order_id.in_(paid))
    assert captured == UNITS
    assert await stack.count("payments", Charge, Charge.order_id.in_(failed)) == 0
