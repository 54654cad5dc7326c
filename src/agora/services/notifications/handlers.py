"""Reactions to order, payment and shipping events: one notification per fact, one email per order event.

Several services report the same fact (orders says ``paid``, payments says ``captured``); both
map to one kind, and the first event to arrive makes the notification. Emails go with the
orders events only (the order's own story, once each). Shipping events carry no user: the owner
is found from an earlier notification about the order, and without one the event is left to
``orders.order.shipped`` / ``delivered``, which tell the same fact with the user.

Everything here runs in the consumer's inbox transaction; the cache invalidation, the push to
open streams and the email happen only after that transaction committed (SQLAlchemy's
``after_commit`` on the session), so a rolled-back or redelivered event shows nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog
from sqlalchemy import event

from agora.contracts import identity, orders, payments, shipping
from agora.platform.messaging import Consumer, Envelope
from agora.services.notifications import metrics
from agora.services.notifications.rendering import Facts, password_reset_email
from agora.services.notifications.runtime import NotificationsRuntime, notifications_runtime
from agora.services.notifications.service import Created, NotificationsService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)

#: The consumer group (and inbox name) of notifications.
CONSUMER = "notifications"


def _lines(items: Iterable[orders.OrderLine]) -> tuple[tuple[str, int], ...]:
    return tuple((line.name, line.quantity) for line in items)


#: (kind, user id or None, facts, whether it is emailed)
Happening = tuple[str, str | None, Facts, bool]


def _order_placed(data: dict[str, Any]) -> Happening:
    placed = orders.OrderPlaced.model_validate(data)
    return "order_placed", placed.user_id, Facts(placed.order_id, placed.total, _lines(placed.items)), True


def _order_paid(data: dict[str, Any]) -> Happening:
    paid = orders.OrderPaid.model_validate(data)
    return "order_paid", paid.user_id, Facts(paid.order_id, paid.total, _lines(paid.items)), True


def _order_failed(data: dict[str, Any]) -> Happening | None:
    failed = orders.OrderFailed.model_validate(data)
    if failed.code == payments.REASON_CARD_DECLINED:
        return None  # the checkout page told the shopper at once; no order exists to tell about
    return "order_failed", failed.user_id, Facts(failed.order_id, reason=failed.reason), True


def _order_cancelled(data: dict[str, Any]) -> Happening:
    cancelled = orders.OrderCancelled.model_validate(data)
    return "order_cancelled", cancelled.user_id, Facts(cancelled.order_id, cancelled.total), True


def _order_shipped(data: dict[str, Any]) -> Happening:
    shipped = orders.OrderShipped.model_validate(data)
    return "order_shipped", shipped.user_id, Facts(shipped.order_id, tracking_id=shipped.tracking_id), True


def _order_delivered(data: dict[str, Any]) -> Happening:
    delivered = orders.OrderDelivered.model_validate(data)
    return "order_delivered", delivered.user_id, Facts(delivered.order_id), True


def _payment_captured(data: dict[str, Any]) -> Happening:
    captured = payments.PaymentCaptured.model_validate(data)
    return "order_paid", captured.user_id, Facts(captured.order_id, captured.amount), False


def _payment_declined(data: dict[str, Any]) -> None:
    return None  # told at checkout (see _order_failed)


def _payment_refunded(data: dict[str, Any]) -> Happening:
    refunded = payments.PaymentRefunded.model_validate(data)
    return "order_cancelled", refunded.user_id, Facts(refunded.order_id, refunded.amount), False


def _shipment_created(data: dict[str, Any]) -> Happening:
    created = shipping.ShipmentCreated.model_validate(data)
    return (
        "order_shipped",
        None,
        Facts(created.order_id, tracking_id=created.tracking_id, carrier=created.carrier),
        False,
    )


def _shipment_delivered(data: dict[str, Any]) -> Happening:
    delivered = shipping.ShipmentDelivered.model_validate(data)
    return "order_delivered", None, Facts(delivered.order_id), False


#: what each event type tells, read from its data (None: nothing to tell)
_READERS: dict[str, Callable[[dict[str, Any]], Happening | None]] = {
    orders.ORDER_PLACED: _order_placed,
    orders.ORDER_PAID: _order_paid,
    orders.ORDER_FAILED: _order_failed,
    orders.ORDER_CANCELLED: _order_cancelled,
    orders.ORDER_SHIPPED: _order_shipped,
    orders.ORDER_DELIVERED: _order_delivered,
    payments.PAYMENT_CAPTURED: _payment_captured,
    payments.PAYMENT_DECLINED: _payment_declined,
    payments.PAYMENT_REFUNDED: _payment_refunded,
    shipping.SHIPMENT_CREATED: _shipment_created,
    shipping.SHIPMENT_DELIVERED: _shipment_delivered,
}


def what_happened(envelope: Envelope) -> Happening | None:
    """(kind, user id or None, facts, whether it is emailed) for an event; None if it tells nothing."""
    reader = _READERS.get(envelope.type)
    return reader(envelope.data) if reader is not None else None


EVENT_TYPES = tuple(_READERS)


def after_commit(session: AsyncSession, runtime: NotificationsRuntime, created: Created) -> None:
    """Once the inbox transaction committed: count, drop the cached page, push, send the email."""

    def committed(_: object) -> None:
        runtime.spawn(_announce(runtime, created))

    event.listen(session.sync_session, "after_commit", committed, once=True)


async def _announce(runtime: NotificationsRuntime, created: Created) -> None:
    if created.document:
        metrics.notifications_total.labels(created.document["kind"]).inc()
        await runtime.cache.invalidate(created.user_id)
        try:
            await runtime.hub.publish(created.user_id, created.document)
        except Exception:
            log.warning("notification_push_failed", user_id=created.user_id, exc_info=True)
    if created.email_id is not None:
        runtime.mailer.wake(created.email_id)


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    consumer = Consumer(
        CONSUMER, context.sessions, context.transport, max_attempts=context.platform.consumer_max_attempts
    )

    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        # looked up per event, not while the consumers are built: building them needs no runtime
        runtime = notifications_runtime(context)
        fact = what_happened(envelope)
        if fact is None:
            return
        kind, user_id, facts, emailed = fact
        service = NotificationsService(session)
        if user_id is None:
            user_id = await service.owner_of_order(facts.order_id)
            if user_id is None:
                log.info("notification_owner_unknown", order_id=facts.order_id, event_type=envelope.type)
                return
        created = await service.record(kind, user_id, facts, email=emailed)
        if created is not None:
            after_commit(session, runtime, created)

    async def password_reset(session: AsyncSession, envelope: Envelope) -> None:
        runtime = notifications_runtime(context)
        requested = identity.PasswordResetRequested.model_validate(envelope.data)
        link = f"{runtime.settings.public_url.rstrip('/')}/reset-password?{urlencode({'token': requested.token})}"
        minutes = max(1, round((requested.expires_at - envelope.time).total_seconds() / 60))
        created = await NotificationsService(session).record_password_reset(
            requested.reset_id, requested.user_id, password_reset_email(link, minutes)
        )
        if created is not None:
            after_commit(session, runtime, created)

    for event_type in EVENT_TYPES:
        consumer.on(event_type, handle)
    consumer.on(identity.PASSWORD_RESET_REQUESTED, password_reset)
    return (consumer,)
