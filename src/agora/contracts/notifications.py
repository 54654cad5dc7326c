"""What the notifications service answers: the notification shape and the kinds it knows.

A notification is one fact about one of the customer's orders ("Your order shipped"). Each kind
exists once per order: the same fact reported by two services (``orders.order.paid`` and
``payments.payment.captured``) makes one notification, whichever event arrives first.

Compatibility rule (as for every contract): fields are only added, with defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Kind = Literal[
    "order_placed",
    "order_paid",
    "order_failed",
    "order_cancelled",
    "order_shipped",
    "order_delivered",
]

KINDS: tuple[str, ...] = (
    "order_placed",
    "order_paid",
    "order_failed",
    "order_cancelled",
    "order_shipped",
    "order_delivered",
)

#: The Server-Sent Events ``event:`` names of ``GET /api/notifications/stream``.
SSE_READY = "ready"
SSE_NOTIFICATION = "notification"


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Notification(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """A notification as ``GET /api/notifications`` lists it and the stream pushes it."""

    id: str
    kind: Kind
    title: str
    body: str
    order_id: str | None = None
    created_at: datetime
    read_at: datetime | None = None


class NotificationPage(_Contract):
    items: list[Notification]
    next_cursor: str | None = None
    unread_count: int


__all__ = ["KINDS", "SSE_NOTIFICATION", "SSE_READY", "Kind", "Notification", "NotificationPage"]
