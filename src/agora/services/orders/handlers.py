"""Reactions to other services' events, and the service's periodic work.

``shipping.shipment.delivered`` moves a ``shipped`` order to ``delivered`` (with
``orders.order.delivered``), so the customer's history follows the carrier without an admin
marking it twice. The consumer's inbox makes a redelivery a no-op; an order that is already
delivered (an admin got there first) or was never shipped here is left as it is, not retried:
the event is a fact about the parcel, and the status machine decides what it means for the order.

Saga recovery runs at start-up, then every ``recovery_interval`` seconds; expired idempotency keys
are purged hourly. Both take what they need from the runtime ``spec.start`` built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.contracts.shipping import SHIPMENT_DELIVERED, ShipmentDelivered
from agora.platform.idempotency import purge_task
from agora.platform.messaging import Consumer, Envelope
from agora.platform.peers import runtime_in
from agora.platform.tasks import PeriodicTask
from agora.services.orders.runtime import OrdersRuntime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

#: The consumer group (and inbox name) of orders.
CONSUMER = "orders"


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    consumer = Consumer(
        CONSUMER, context.sessions, context.transport, max_attempts=context.platform.consumer_max_attempts
    )

    async def shipment_delivered(session: AsyncSession, envelope: Envelope) -> None:
        event = ShipmentDelivered.model_validate(envelope.data)
        await runtime_in(context, OrdersRuntime).service(session).delivered_by_carrier(event.order_id)

    consumer.on(SHIPMENT_DELIVERED, shipment_delivered)
    return (consumer,)


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    """Saga recovery: at start-up, then every ``recovery_interval`` seconds; and the hourly purge
    of idempotency keys past their 24 hours."""
    runtime = runtime_in(context, OrdersRuntime)
    return [
        PeriodicTask("orders.recovery", runtime.settings.recovery_interval, runtime.saga.recover),
        purge_task(context),
    ]
