"""The order summary's arithmetic, pure: revenue per day and currency, order count, average order
value, top products and the conversion funnel, from rows the repository read.

Amounts never mix currencies: every total is per currency. Revenue counts paid orders that were
not cancelled since, on the day (UTC) they were paid. The average order value is that revenue
over those orders, rounded to the nearest minor unit (halves up). Funnel rates are the next
step's count over the step before, rounded to 4 places, null when the step before is 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Line:
    product_id: str
    name: str
    quantity: int
    amount: int


@dataclass(frozen=True)
class PaidOrder:
    order_id: str
    currency: str
    total: int
    paid_on: date
    lines: Sequence[Line] = field(default_factory=tuple)


@dataclass(frozen=True)
class FunnelCounts:
    views: int
    carts: int
    checkouts: int
    paid: int


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def average(total: int, count: int) -> int:
    """``total / count`` rounded to the nearest integer, halves up (``count`` > 0)."""
    return (2 * total + count) // (2 * count)


def funnel(counts: FunnelCounts) -> dict[str, Any]:
    return {
        "views": counts.views,
        "carts": counts.carts,
        "checkouts": counts.checkouts,
        "paid": counts.paid,
        "rates": {
            "view_to_cart": _rate(counts.carts, counts.views),
            "cart_to_checkout": _rate(counts.checkouts, counts.carts),
            "checkout_to_paid": _rate(counts.paid, counts.checkouts),
            "view_to_paid": _rate(counts.paid, counts.views),
        },
    }


def summarize(orders: Iterable[PaidOrder], counts: FunnelCounts, *, top: int) -> dict[str, Any]:
    """The summary document (without the period, which the caller adds)."""
    per_day: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    per_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    products: dict[str, dict[str, Any]] = {}
    count = 0
    for order in orders:
        count += 1
        day = per_day[(order.paid_on, order.currency)]
        day[0] += order.total
        day[1] += 1
        money = per_currency[order.currency]
        money[0] += order.total
        money[1] += 1
        for line in order.lines:
            product = products.setdefault(line.product_id, {"name": line.name, "units": 0, "revenue": {}, "orders": 0})
            product["units"] += line.quantity
            product["revenue"][order.currency] = product["revenue"].get(order.currency, 0) + line.amount
            product["orders"] += 1
    ranked = sorted(products.items(), key=lambda item: (-item[1]["units"], item[0]))[:top]
    return {
        "orders": count,
        "revenue_per_day": [
            {"date": day.isoformat(), "currency": currency, "amount": amount, "orders": n}
            for (day, currency), (amount, n) in sorted(per_day.items())
        ],
        "currencies": [
            {
                "currency": currency,
                "orders": n,
                "revenue": {"amount": amount, "currency": currency},
                "average_order_value": {"amount": average(amount, n), "currency": currency},
            }
            for currency, (amount, n) in sorted(per_currency.items())
        ],
        "top_products": [
            {
                "product_id": product_id,
                "name": facts["name"],
                "units": facts["units"],
                "orders": facts["orders"],
                "revenue": [{"amount": a, "currency": c} for c, a in sorted(facts["revenue"].items())],
            }
            for product_id, facts in ranked
        ],
        "funnel": funnel(counts),
    }


__all__ = ["FunnelCounts", "Line", "PaidOrder", "average", "funnel", "summarize"]
