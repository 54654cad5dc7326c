"""Reactions to other services' events: a new catalog product gets its stock row, and a product
whose sku changed takes its stock (and held reservation lines) to the new sku.

``catalog.product.created`` creates the sku's row if it has none: demo products (inserted by the
catalog's seed, ``demo: true``) get a stable demo quantity, real ones start at 0 until an admin
counts them. The consumer's inbox makes a redelivery a no-op, and the insert itself is "if
missing", so an admin who set the count before the event arrived keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.contracts.catalog import PRODUCT_CREATED, PRODUCT_UPDATED, ProductCreated, ProductUpdated
from agora.platform.messaging import Consumer, Envelope
from agora.services.inventory.runtime import inventory_runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

#: The consumer group (and inbox name) of inventory: one group, whatever topics it follows.
CATALOG_CONSUMER = "inventory"


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    # stock exists only once the product's event is handled: not ready to sell before that
    consumer = Consumer(CATALOG_CONSUMER, context.sessions, context.transport, holds_readiness=True)

    async def product_created(session: AsyncSession, envelope: Envelope) -> None:
        event = ProductCreated.model_validate(envelope.data)
        service = inventory_runtime(context).service(session)
        await service.create_for_product(event.product.sku, demo=event.demo)

    async def product_updated(session: AsyncSession, envelope: Envelope) -> None:
        event = ProductUpdated.model_validate(envelope.data)
        if event.previous_sku is not None and event.previous_sku != event.product.sku:
            service = inventory_runtime(context).service(session)
            await service.follow_sku_change(event.previous_sku, event.product.sku)

    consumer.on(PRODUCT_CREATED, product_created)
    consumer.on(PRODUCT_UPDATED, product_updated)
    return (consumer,)
