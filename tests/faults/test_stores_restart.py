"""PostgreSQL and Redis restart while shoppers check out: the shop rides it out on its own."""

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


async def test_postgresql_restarted_mid_load(shop: FaultShop) -> None:
    async def breaks() -> None:
        await asyncio.to_thread(shop.postgres.stop)

    async def heals() -> None:
        await asyncio.to_thread(shop.postgres.start)

    await shop.under_fault("postgresql restarted", breaks, heals, down_for=5)


async def test_redis_restarted_mid_load_keeps_carts(shop: FaultShop) -> None:
    """Redis keeps the carts in its append-only file: a cart filled before the restart is whole after."""
    async with shop.client() as client:
        (keeper,) = await shop.shoppers(client, 1)
        await shop.restock(client)
        line = {"product_id": shop.products[0]["id"], "quantity": 2}
        added = await client.post(shop.url("/api/cart/items"), json=line, headers=keeper.headers)
        assert added.status_code in (200, 201), added.text

        async def breaks() -> None:
            await asyncio.to_thread(shop.redis.stop)

        async def heals() -> None:
            await asyncio.to_thread(shop.redis.start)

        await shop.under_fault("redis restarted", breaks, heals, down_for=5)
        cart = await client.get(shop.url("/api/cart"), headers=keeper.headers)
        assert cart.status_code == 200, cart.text
        assert cart.json()["item_count"] == 2
