"""Real checkouts (the whole checkout stack plus recommendations, each service on its own database,
users from identity): the orders' ``orders.order.paid`` events teach the recommender what is bought
together, and a customer's own list leaves out what they bought."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import recommendations
from agora.services.recommendations.models import PaidOrder
from tests.support.stack import POSTGRES_POOL, SERVICES, Stack, specs

NAMES = (*SERVICES, "recommendations")


@pytest.fixture(scope="module")
async def stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack-recommendations")
    platform = platform_for_tests(tmp, jwks_file=None)
    every = [*specs(), recommendations.spec]
    extra = {"database_pool_size": POSTGRES_POOL} if database_backend == "postgresql" else {}
    async with service_databases(database_backend, NAMES, tmp) as urls:
        settings = {spec.name: spec.settings_cls(database_url=urls[spec.name], **extra) for spec in every}
        async with running_services(every, platform, settings, seed=True) as (client, embedded):
            running = Stack(client, embedded)
            await running.wait_for_stock(product["sku"] for product in await running.products(3))
            yield running


async def _paid_orders(stack: Stack) -> int:
    async with stack.context("recommendations").sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(PaidOrder)) or 0)


async def test_checkouts_teach_bought_together_and_me_leaves_out_purchases(stack: Stack) -> None:
    first, second, third = await stack.products(3)
    buyers = await stack.users(3)
    baskets = [(buyers[0], [first, second]), (buyers[1], [first, second]), (buyers[2], [first, third])]
    for user, basket in baskets:
        for product in basket:
            assert (await stack.add_to_cart(user, product["id"])).status_code in (200, 201)
        response = await stack.checkout(user)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "paid"

    async def counted() -> bool:
        return await _paid_orders(stack) == len(baskets)

    await eventually(counted, what="three paid orders in recommendations", within=60.0)

    page = await stack.client.get(f"/api/recommendations/products/{first['id']}", params={"limit": 5})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [(i["product_id"], i["reason"], i["score"]) for i in items[:2]] == [
        (second["id"], "bought_together", 2.0),
        (third["id"], "bought_together", 1.0),
    ]
    assert first["id"] not in {i["product_id"] for i in items}

    # the customer signed in through identity: never what they bought, first what others bought with it
    mine = await stack.client.get("/api/recommendations/me", params={"limit": 5}, headers=buyers[0].headers)
    assert mine.status_code == 200, mine.text
    shown = [(i["product_id"], i["reason"]) for i in mine.json()["items"]]
    assert shown[0] == (third["id"], "bought_together")
    assert not {first["id"], second["id"]} & {product for product, _ in shown}
