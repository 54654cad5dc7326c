"""Reactions to the catalog's and orders' events: the facts recommendations learns from.

* ``catalog.product.created`` / ``updated``: the local copy of the product (newest version wins);
* ``catalog.product.deleted``: the product becomes inactive (never recommended again);
* ``orders.order.paid``: the order's lines are stored and counted (bought together, per user,
  popularity).

Each runs in the consumer's inbox transaction, so a redelivered envelope is a no-op; a paid
order is also keyed by its order id, so the same order under a new envelope id counts once too.
The similarity model is not rebuilt here (see :mod:`.tasks`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.contracts.catalog import (
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
)
from agora.contracts.orders import ORDER_PAID, OrderPaid
from agora.platform.messaging import Consumer, Envelope
from agora.services.recommendations import metrics
from agora.services.recommendations.service import RecommendationsService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

#: The consumer group (and inbox name) of recommendations.
CONSUMER = "recommendations"


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    consumer = Consumer(CONSUMER, context.sessions, context.transport)

    async def product_created(session: AsyncSession, envelope: Envelope) -> None:
        await RecommendationsService(session).record_product(ProductCreated.model_validate(envelope.data).product)

    async def product_updated(session: AsyncSession, envelope: Envelope) -> None:
        await RecommendationsService(session).record_product(ProductUpdated.model_validate(envelope.data).product)

    async def product_deleted(session: AsyncSession, envelope: Envelope) -> None:
        event = ProductDeleted.model_validate(envelope.data)
        await RecommendationsService(session).withdraw_product(event.id, event.sku, event.version)

    async def order_paid(session: AsyncSession, envelope: Envelope) -> None:
        event = OrderPaid.model_validate(envelope.data)
        if await RecommendationsService(session).record_paid_order(event, paid_at=envelope.time):
            # counted before the inbox transaction commits: a failed commit may over-count by one
            metrics.orders_counted_total.inc()

    consumer.on(PRODUCT_CREATED, product_created)
    consumer.on(PRODUCT_UPDATED, product_updated)
    consumer.on(PRODUCT_DELETED, product_deleted)
    consumer.on(ORDER_PAID, order_paid)
    return (consumer,)
