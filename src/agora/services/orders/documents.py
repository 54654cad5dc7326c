"""How an order looks to clients and in events (``agora.contracts.orders``), and why a checkout failed.

One place renders an order, so the checkout's 201, the history page, a replayed idempotent answer
and the events can never disagree about its shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from agora.contracts.orders import OrderPaid, OrderPlaced
from agora.platform.errors import ServiceError
from agora.platform.http.problems import PROBLEM_JSON, error_document
from agora.platform.idempotency import Replay
from agora.services.orders.models import Order, OrderItem

#: Where an order lives (the 201's ``Location``) and where a checkout is posted (problems' ``instance``).
ORDERS_PATH = "/api/orders"
CHECKOUT_PATH = f"{ORDERS_PATH}/checkout"


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def item_document(item: OrderItem, currency: str) -> dict[str, Any]:
    return {
        "product_id": item.product_id,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price": money(item.unit_price, currency),
        "line_total": money(item.line_total, currency),
    }


def address_of(order: Order) -> dict[str, str]:
    address: dict[str, str] = orjson.loads(order.shipping_address)
    return address


def order_document(order: Order) -> dict[str, Any]:
    """The order as the API returns it (``agora.contracts.orders.Order``)."""
    currency = order.currency
    payment = None
    if order.payment_id is not None:
        card = {"brand": order.card_brand, "last4": order.card_last4} if order.card_last4 else None
        payment = {"id": order.payment_id, "card": card}
    failure = None
    if order.failure_code is not None:
        failure = {"code": order.failure_code, "reason": order.failure_reason}
    return {
        "id": order.id,
        "user_id": order.user_id,
        "status": order.status,
        "items": [item_document(item, currency) for item in order.items],
        "subtotal": money(order.subtotal, currency),
        "shipping": money(order.shipping_cost, currency),
        "total": money(order.total, currency),
        "currency": currency,
        "shipping_address": address_of(order),
        "payment": payment,
        "tracking_id": order.tracking_id,
        "failure": failure,
        "created_at": _timestamp(order.created_at),
        "updated_at": _timestamp(order.updated_at),
    }


def _facts(order: Order) -> dict[str, Any]:
    """What ``placed`` and ``paid`` carry (``agora.contracts.orders.OrderFacts``)."""
    currency = order.currency
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "currency": currency,
        "items": [item_document(item, currency) for item in order.items],
        "subtotal": money(order.subtotal, currency),
        "shipping": money(order.shipping_cost, currency),
        "total": money(order.total, currency),
    }


def order_placed(order: Order) -> OrderPlaced:
    """``orders.order.placed`` of a paid order: its facts and where it goes."""
    return OrderPlaced.model_validate({**_facts(order), "shipping_address": address_of(order)})


def order_paid(order: Order) -> OrderPaid:
    """``orders.order.paid`` of a paid order: its facts and the payment's id."""
    return OrderPaid.model_validate({**_facts(order), "payment_id": order.payment_id})


@dataclass(frozen=True)
class Failure:
    """Why a checkout ended without an order: a code for programs, a reason for people."""

    code: str
    reason: str
    status: int
    field: str | None = None


class CheckoutFailed(ServiceError):
    """The checkout ended with the order ``failed`` (or, for 503s, still settling).

    The problem body carries ``order_id``, ``code`` and ``reason`` so the storefront can show
    the reason and link the order.
    """

    def __init__(self, order_id: str | None, failure: Failure) -> None:
        extra: dict[str, Any] = {"code": failure.code, "reason": failure.reason}
        if order_id is not None:
            extra["order_id"] = order_id
        super().__init__(failure.reason, field=failure.field, **extra)
        self.status = failure.status
        self.order_id = order_id
        self.failure = failure


def checkout_answer(order: Order, failure: Failure | None = None) -> Replay:
    """The answer for a paid or failed ``order`` (``failure``: the live one, with its field), in
    the shape its Idempotency-Key stores and replays.

    Rendered once, when the order ends, and stored with the key in that same transaction; the
    first request and every replay send these bytes, so they cannot differ.
    """
    if order.status == "failed":
        if failure is None:
            failure = Failure(order.failure_code or "failed", order.failure_reason or "", order.failure_status or 409)
        status, document, headers = error_document(CheckoutFailed(order.id, failure), CHECKOUT_PATH)
        return Replay(status, orjson.dumps(document), PROBLEM_JSON, headers)
    headers = {"Location": f"{ORDERS_PATH}/{order.id}"}
    return Replay(201, orjson.dumps(order_document(order)), "application/json", headers)


__all__ = [
    "CHECKOUT_PATH",
    "ORDERS_PATH",
    "CheckoutFailed",
    "Failure",
    "address_of",
    "checkout_answer",
    "item_document",
    "money",
    "order_document",
    "order_paid",
    "order_placed",
]
