"""Recommendations running in-process on each database backend, fed with events built from the contracts.

Events go through the transport (the in-memory broker, as in embedded mode), so they pass the
consumer and its inbox exactly as the catalog's and orders' events do in production.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agora.contracts.catalog import (
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    CategoryRef,
    Money,
    Product,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
)
from agora.contracts.orders import ORDER_PAID, OrderLine, OrderPaid
from agora.platform.messaging import Envelope, dead_letters, inbox
from agora.platform.messaging.metrics import EVENTS_CONSUMED
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.platform.testing.waiting import eventually
from agora.services.recommendations import RecommendationsSettings, spec
from agora.services.recommendations.handlers import CONSUMER
from agora.services.recommendations.models import CoPurchase, PaidOrder, Popularity, UserPurchase
from agora.services.recommendations.models import OrderLine as OrderLineRow
from agora.services.recommendations.models import Product as ProductRow
from agora.services.recommendations.runtime import recommendations_runtime

API = "/api/recommendations"
DEADLINE_SECONDS = 30.0
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Item:
    """A product of a scripted catalog."""

    id: str
    name: str
    category: str
    description: str = ""
    tags: tuple[str, ...] = ()
    active: bool = True
    version: int = 1
    created_at: datetime = EPOCH

    def contract(self) -> Product:
        return Product(
            id=self.id,
            sku=f"SKU-{self.id[:8].upper()}",
            name=self.name,
            description=self.description,
            price=Money(amount=1000, currency="USD"),
            category=CategoryRef(id=f"cat-{self.category}", slug=self.category, name=self.category.title()),
            tags=list(self.tags),
            images=[],
            active=self.active,
            version=self.version,
            created_at=self.created_at,
            updated_at=self.created_at,
        )


def created(item: Item) -> Envelope:
    data = ProductCreated(product=item.contract()).model_dump(mode="json")
    return Envelope(type=PRODUCT_CREATED, source="agora/catalog", data=data, subject=item.id)


def updated(item: Item, changed: Sequence[str]) -> Envelope:
    data = ProductUpdated(product=item.contract(), changed=list(changed)).model_dump(mode="json")
    return Envelope(type=PRODUCT_UPDATED, source="agora/catalog", data=data, subject=item.id)


def deleted(item: Item) -> Envelope:
    data = ProductDeleted(id=item.id, sku=item.contract().sku, version=item.version).model_dump(mode="json")
    return Envelope(type=PRODUCT_DELETED, source="agora/catalog", data=data, subject=item.id)


def paid(user_id: str, lines: Sequence[tuple[str, int]], *, order_id: str | None = None) -> Envelope:
    money = Money(amount=1000, currency="USD")
    order_id = order_id or new_id()
    event = OrderPaid(
        order_id=order_id,
        user_id=user_id,
        currency="USD",
        items=[
            OrderLine(
                product_id=product_id,
                sku=f"SKU-{product_id[:8].upper()}",
                name="x",
                quantity=quantity,
                unit_price=money,
                line_total=Money(amount=1000 * quantity, currency="USD"),
            )
            for product_id, quantity in lines
        ],
        subtotal=money,
        shipping=Money(amount=0, currency="USD"),
        total=money,
        payment_id=new_id(),
    )
    return Envelope(type=ORDER_PAID, source="agora/orders", data=event.model_dump(mode="json"), subject=order_id)


def _consumed(event_type: str, outcome: str) -> float:
    return EVENTS_CONSUMED.labels(CONSUMER, event_type, outcome)._value.get()


@dataclass
class Recommender:
    client: httpx.AsyncClient
    embedded: Any
    token_factory: TokenFactory

    @property
    def context(self) -> Any:
        return self.embedded.contexts["recommendations"]

    async def _handled(self, event_ids: set[str]) -> bool:
        async with self.context.sessions() as session:
            statement = select(inbox.c.event_id).where(inbox.c.consumer == CONSUMER, inbox.c.event_id.in_(event_ids))
            return set((await session.scalars(statement)).all()) == event_ids

    async def publish(self, *envelopes: Envelope) -> None:
        """Publishes through the broker and returns once the consumer handled every one."""
        for envelope in envelopes:
            await self.context.transport.publish(envelope.topic, envelope, key=envelope.subject)
        ids = {envelope.id for envelope in envelopes}

        async def handled() -> bool:
            return await self._handled(ids)

        await eventually(handled, what=f"{len(ids)} events handled", within=DEADLINE_SECONDS)

    async def publish_again(self, envelope: Envelope) -> None:
        """Redelivers an envelope already handled; returns once the consumer saw it as a duplicate."""
        before = _consumed(envelope.type, "duplicate")
        await self.context.transport.publish(envelope.topic, envelope, key=envelope.subject)

        async def seen() -> bool:
            return _consumed(envelope.type, "duplicate") > before

        await eventually(seen, what=f"{envelope.type} seen as a duplicate", within=DEADLINE_SECONDS)

    async def refresh(self) -> None:
        await recommendations_runtime(self.context).refresh(force=True)

    async def for_product(self, product_id: str, **params: Any) -> list[tuple[str, str]]:
        response = await self.client.get(f"{API}/products/{product_id}", params=params)
        assert response.status_code == 200, response.text
        return [(item["product_id"], item["reason"]) for item in response.json()["items"]]

    async def for_user(self, user_id: str, **params: Any) -> list[tuple[str, str]]:
        headers = bearer(self.token_factory(roles=["customer"], subject=user_id))
        response = await self.client.get(f"{API}/me", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [(item["product_id"], item["reason"]) for item in response.json()["items"]]

    async def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table: what "nothing changed" and "rebuild equals incremental" compare."""
        result: dict[str, list[tuple[Any, ...]]] = {}
        async with self.context.sessions() as session:
            for name, model in (
                ("products", ProductRow),
                ("paid_orders", PaidOrder),
                ("order_lines", OrderLineRow),
                ("co_purchases", CoPurchase),
                ("user_purchases", UserPurchase),
                ("popularity", Popularity),
            ):
                columns = [column for column in model.__table__.columns if column.key not in ("changed_at",)]
                rows = (await session.execute(select(*columns).order_by(*model.__table__.primary_key))).all()
                result[name] = [tuple(row) for row in rows]
            result["inbox"] = [(await session.scalar(select(func.count()).select_from(inbox)),)]
            # a poison event would leave the tables as they were too: none may have been parked
            result["dead_letters"] = [(await session.scalar(select(func.count()).select_from(dead_letters)),)]
        return result


def newer(days: int) -> datetime:
    return EPOCH + timedelta(days=days)


@pytest.fixture(scope="module")
async def recommender(
    database_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Recommender]:
    data_dir = tmp_path_factory.mktemp("recommendations")
    platform = platform_for_tests(data_dir, jwks_file=jwks_file)
    # the periodic refresh runs once at start; the tests refresh the model themselves
    settings = RecommendationsSettings(database_url=database_url, model_refresh_seconds=3600)
    async with running_services([spec], platform, {"recommendations": settings}) as (client, embedded):
        yield Recommender(client, embedded, token_factory)
