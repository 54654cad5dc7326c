"""Reactions to other services' events: order facts from ``orders.order.*`` and the funnel's cart
step from ``cart.item.added``.

Each handler runs in the consumer's inbox transaction, so a redelivered event is dropped before
it gets here; the writes are upserts besides, so ``placed`` and ``paid`` (the same facts) store
the order once. The event's time (its envelope's ``time``) is when the fact happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.contracts.cart import CART_ITEM_ADDED, CartItemAdded
from agora.contracts.orders import (
    ORDER_CANCELLED,
    ORDER_FAILED,
    ORDER_PAID,
    ORDER_PLACED,
    OrderCancelled,
    OrderFailed,
    OrderPaid,
    OrderPlaced,
)
from agora.platform.messaging import Consumer, Envelope
from agora.services.analytics.metrics import count_after_commit
from agora.services.analytics.models import CART
from agora.services.analytics.service import AnalyticsService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

#: The consumer group (and inbox name) of analytics.
CONSUMER = "analytics"


async def order_placed(session: AsyncSession, envelope: Envelope) -> None:
    await AnalyticsService(session).record_order(OrderPlaced.model_validate(envelope.data), envelope.time, paid=False)
    count_after_commit(session, envelope.type)


async def order_paid(session: AsyncSession, envelope: Envelope) -> None:
    await AnalyticsService(session).record_order(OrderPaid.model_validate(envelope.data), envelope.time, paid=True)
    count_after_commit(session, envelope.type)


async def order_failed(session: AsyncSession, envelope: Envelope) -> None:
    await AnalyticsService(session).record_failed(OrderFailed.model_validate(envelope.data), envelope.time)
    count_after_commit(session, envelope.type)


async def order_cancelled(session: AsyncSession, envelope: Envelope) -> None:
    await AnalyticsService(session).record_cancelled(OrderCancelled.model_validate(envelope.data), envelope.time)
    count_after_commit(session, envelope.type)


async def cart_item_added(session: AsyncSession, envelope: Envelope) -> None:
    event = CartItemAdded.model_validate(envelope.data)
    await AnalyticsService(session).record_activity(CART, event.product_id, event.user_id, envelope.time)
    count_after_commit(session, envelope.type)


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    consumer = Consumer(CONSUMER, context.sessions, context.transport)
    consumer.on(ORDER_PLACED, order_placed)
    consumer.on(ORDER_PAID, order_paid)
    consumer.on(ORDER_FAILED, order_failed)
    consumer.on(ORDER_CANCELLED, order_cancelled)
    consumer.on(CART_ITEM_ADDED, cart_item_added)
    return (consumer,)
