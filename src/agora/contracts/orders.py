"""What orders publishes: event payloads and the order shape clients may rely on.

Payloads carry what consumers act on without calling back: ``placed`` and ``paid`` hold the
buyer, every line and the totals, so notifications can write the receipt, analytics can count
revenue and recommendations can learn "bought together" from the event alone.

Compatibility rule (as for every contract): fields are only ever added, with defaults; a removed
or retyped field is a new event type. Consumers ignore fields they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agora.contracts.base import Event
from agora.contracts.catalog import Money

#: Event types, stable strings (topic ``orders``).
ORDER_PLACED = "orders.order.placed"
ORDER_PAID = "orders.order.paid"
ORDER_FAILED = "orders.order.failed"
ORDER_CANCELLED = "orders.order.cancelled"
ORDER_SHIPPED = "orders.order.shipped"
ORDER_DELIVERED = "orders.order.delivered"

#: The CloudEvents ``source`` of every orders event.
SOURCE = "agora/orders"


def order_number(order_id: str) -> str:
    """The order number a customer sees (``#A5D50145``): the id's first eight hex digits, which
    tell one customer's orders apart; the full id stays in links and APIs."""
    return "#" + order_id.replace("-", "")[:8].upper()


OrderStatus = Literal["pending", "paid", "shipped", "delivered", "cancelled", "failed"]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderLine(_Contract):
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


class ShippingAddress(_Contract):
    name: str
    line1: str
    city: str
    postal_code: str
    country: str


class CardSummary(_Contract):
    brand: str
    last4: str


class Payment(_Contract):
    id: str
    card: CardSummary | None = None


class Failure(_Contract):
    code: str
    reason: str
    """A sentence the customer can read ("Your card was declined.")."""


class Order(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """An order as ``GET /api/orders/{id}`` returns it."""

    id: str
    user_id: str
    status: OrderStatus
    items: list[OrderLine]
    subtotal: Money
    shipping: Money
    total: Money
    currency: str
    shipping_address: ShippingAddress
    payment: Payment | None = None
    tracking_id: str | None = None
    failure: Failure | None = None
    created_at: datetime
    updated_at: datetime


class OrderFacts(Event):
    """The facts ``placed`` and ``paid`` carry."""

    order_id: str
    user_id: str
    currency: str
    items: list[OrderLine]
    subtotal: Money
    shipping: Money
    total: Money


class OrderPlaced(OrderFacts):
    """``orders.order.placed``: the customer bought this (published with ``paid``, once payment is captured)."""

    event_type: ClassVar[str] = ORDER_PLACED

    shipping_address: ShippingAddress


class OrderPaid(OrderFacts):
    """``orders.order.paid``: the payment is captured and the stock committed."""

    event_type: ClassVar[str] = ORDER_PAID

    payment_id: str


class OrderFailed(Event):
    """``orders.order.failed``: checkout ended without an order; everything was compensated."""

    event_type: ClassVar[str] = ORDER_FAILED

    order_id: str
    user_id: str
    code: str
    reason: str


class OrderCancelled(Event):
    """``orders.order.cancelled``: refunded and restocked before shipping."""

    event_type: ClassVar[str] = ORDER_CANCELLED

    order_id: str
    user_id: str
    total: Money
    payment_id: str | None = None


class OrderShipped(Event):
    """``orders.order.shipped``: handed to the carrier, with its tracking id."""

    event_type: ClassVar[str] = ORDER_SHIPPED
    order_id: str
    user_id: str
    tracking_id: str


class OrderDelivered(Event):
    """``orders.order.delivered``: the parcel arrived (the carrier said so, or an admin)."""

    event_type: ClassVar[str] = ORDER_DELIVERED
    order_id: str
    user_id: str


__all__ = [
    "ORDER_CANCELLED",
    "ORDER_DELIVERED",
    "ORDER_FAILED",
    "ORDER_PAID",
    "ORDER_PLACED",
    "ORDER_SHIPPED",
    "SOURCE",
    "CardSummary",
    "Failure",
    "Order",
    "OrderCancelled",
    "OrderDelivered",
    "OrderFacts",
    "OrderFailed",
    "OrderLine",
    "OrderPaid",
    "OrderPlaced",
    "OrderShipped",
    "OrderStatus",
    "Payment",
    "ShippingAddress",
    "order_number",
]
