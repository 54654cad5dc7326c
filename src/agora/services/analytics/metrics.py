"""Analytics' business metrics (module-level: the Prometheus registry is process-global).

Counted once the change committed: an event whose transaction rolled back (and will be retried)
is not counted twice.
"""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.analytics import PRODUCT_VIEW
from agora.contracts.cart import CART_ITEM_ADDED
from agora.contracts.orders import ORDER_CANCELLED, ORDER_FAILED, ORDER_PAID, ORDER_PLACED
from agora.platform.observability.metrics import preinitialise

events_total = Counter(
    "agora_analytics_events_total",
    "Events analytics recorded, by type (orders.order.*, cart.item.added, product_view).",
    ("type",),
)
preinitialise(events_total, ORDER_PLACED, ORDER_PAID, ORDER_FAILED, ORDER_CANCELLED, CART_ITEM_ADDED, PRODUCT_VIEW)


def count_after_commit(session: AsyncSession, event_type: str) -> None:
    """Increments ``events_total{type}`` when ``session``'s transaction commits (never on rollback)."""

    def committed(_session: object) -> None:
        events_total.labels(event_type).inc()

    event.listen(session.sync_session, "after_commit", committed, once=True)
