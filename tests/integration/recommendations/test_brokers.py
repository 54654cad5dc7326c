"""Recommendations consuming from real brokers: the Kafka-protocol broker (tansu) and NATS JetStream.

Catalog and recommendations run in-process, each on its own SQLite database, connected only by the
broker: the seeded catalog reaches the recommender, a paid order delivered twice counts once, and
while a (test-owned) NATS server is down a new product waits in the catalog's outbox and arrives,
once, when it is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.platform.messaging import inbox
from agora.platform.messaging.metrics import EVENTS_CONSUMED
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.brokers import PrivateNats
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import catalog, recommendations
from agora.services.catalog.models import Category
from agora.services.catalog.models import Product as CatalogProduct
from agora.services.recommendations.handlers import CONSUMER
from agora.services.recommendations.models import CoPurchase, PaidOrder, Product

from .conftest import Item, bearer, created, new_id, paid

DEADLINE_SECONDS = 60.0


@asynccontextmanager
async def running_pair(broker_url: str, tmp: Path, jwks_file: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with service_databases("sqlite", ["catalog", "recommendations"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=jwks_file, broker_url=broker_url)
        settings = {
            "catalog": catalog.CatalogSettings(database_url=urls["catalog"]),
            "recommendations": recommendations.RecommendationsSettings(database_url=urls["recommendations"]),
        }
        async with running_services([catalog.spec, recommendations.spec], platform, settings, seed=True) as pair:
            yield pair


async def _count(embedded: Any, service: str, model: Any, *conditions: Any) -> int:
    async with embedded.contexts[service].sessions() as session:
        statement = select(func.count()).select_from(model)
        for condition in conditions:
            statement = statement.where(condition)
        return int(await session.scalar(statement) or 0)


async def _ids(embedded: Any, service: str, column: Any) -> set[str]:
    async with embedded.contexts[service].sessions() as session:
        return set((await session.scalars(select(column))).all())


async def _all_products_arrived(embedded: Any) -> None:
    expected = await _ids(embedded, "catalog", CatalogProduct.id)
    assert len(expected) >= 100

    async def arrived() -> bool:
        # a subset: a shared broker may also hold other runs' product events
        return expected <= await _ids(embedded, "recommendations", Product.id)

    await eventually(arrived, what=f"{len(expected)} products through the broker", within=DEADLINE_SECONDS)


@pytest.mark.parametrize("broker", ["kafka", "nats"])
async def test_events_arrive_through_the_broker_and_count_once(
    broker: str, request: pytest.FixtureRequest, jwks_file: Path, tmp_path: Path
) -> None:
    # brokers of this test session only: on the machine's shared NATS another test session's
    # "recommendations" group would share (and take) the deliveries
    if broker == "kafka":
        broker_url = str(request.getfixturevalue("kafka_url"))
    else:
        broker_url = request.getfixturevalue("private_nats").url
    async with running_pair(broker_url, tmp_path, jwks_file) as (client, embedded):
        await _all_products_arrived(embedded)
        # products of this run only: the session's broker keeps earlier tests' orders of the seeded products
        first, second = (Item(new_id(), f"Broker {broker} {n}", f"broker-{broker}") for n in "AB")
        transport = embedded.contexts["recommendations"].transport
        for envelope in (created(first), created(second)):
            await transport.publish(envelope.topic, envelope, key=envelope.subject)
        a, b = sorted((first.id, second.id))
        order = paid(f"user-{new_id()}", [(a, 1), (b, 1)])
        duplicates = _duplicates(order.type)
        await transport.publish(order.topic, order, key=order.subject)
        await transport.publish(order.topic, order, key=order.subject)  # the broker delivers it again

        async def handled() -> bool:
            return await _count(embedded, "recommendations", inbox, inbox.c.event_id == order.id) == 1 and {
                a,
                b,
            } <= await _ids(embedded, "recommendations", Product.id)

        await eventually(handled, what="the paid order handled", within=DEADLINE_SECONDS)

        async def redelivered() -> bool:
            return _duplicates(order.type) > duplicates

        await eventually(redelivered, what="the second delivery seen as a duplicate", within=DEADLINE_SECONDS)
        assert await _count(embedded, "recommendations", PaidOrder, PaidOrder.order_id == order.subject) == 1
        async with embedded.contexts["recommendations"].sessions() as session:
            pair = await session.get(CoPurchase, (a, b))
        assert pair is not None and pair.count == 1
        items = (await client.get(f"/api/recommendations/products/{a}")).json()["items"]
        assert items[0] == {"product_id": b, "score": 1.0, "reason": "bought_together"}


def _duplicates(event_type: str) -> float:
    return EVENTS_CONSUMED.labels(CONSUMER, event_type, "duplicate")._value.get()


@pytest.mark.backend("nats")
async def test_a_product_created_while_nats_is_down_arrives_once(
    private_nats: PrivateNats, jwks_file: Path, token_factory: TokenFactory, tmp_path: Path
) -> None:
    async with running_pair(private_nats.url, tmp_path, jwks_file) as (client, embedded):
        await _all_products_arrived(embedded)
        private_nats.stop()
        admin = bearer(token_factory(roles=["admin"], subject="admin-1"))
        async with embedded.contexts["catalog"].sessions() as session:
            category = (await session.scalars(select(Category.slug).limit(1))).one()
        body = {
            "sku": f"OUTAGE-{new_id()[:8].upper()}",
            "name": "Storm Lantern",
            "price": {"amount": 2599, "currency": "USD"},
            "category": category,
        }
        response = await client.post("/api/catalog/products", json=body, headers=admin)
        assert response.status_code == 201, response.text
        product_id = response.json()["id"]
        assert await _count(embedded, "recommendations", Product, Product.id == product_id) == 0

        private_nats.start()

        async def arrived() -> bool:
            return await _count(embedded, "recommendations", Product, Product.id == product_id) == 1

        await eventually(arrived, what="the product after the restart", within=DEADLINE_SECONDS)
        page = await client.get(f"/api/recommendations/products/{product_id}")
        assert page.status_code == 200, page.text
