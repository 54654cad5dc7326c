"""Demo history: ``seed_days`` (90) days of synthetic but plausible orders, ending yesterday.

Deterministic (``random.Random(SEED)``): the same rows on every installation, relative to the day
the seed runs, so the summary, the forecast and the anomaly detection answer something meaningful
on a fresh ``agora up``. Every row is ``demo = true``.

* 12 of the demo catalog's products (the catalog's own ids, skus, names and prices), each with
  its own base demand, a slow trend and a weekly rhythm (weekends sell more);
* about 20-40 orders a day, 1-3 lines each, 80% in USD and 20% in EUR; ~5% of checkouts fail;
* the funnel's earlier steps as one weighted ``activity`` row per day and kind (views about 25 times
  and cart additions about 3 times the day's orders);
* two planted anomalies for ``/ml/analyze``: one order 40 times the usual amount, and one user who
  places 8 orders within two hours.

Idempotent: nothing is written when any demo order exists.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.service import ServiceContext
from agora.services.analytics.models import CART, FAILED, PAID, VIEW, Activity, OrderFact, OrderFactLine
from agora.services.analytics.repository import AnalyticsRepository
from agora.services.analytics.settings import AnalyticsSettings

SEED = 2026
NAMESPACE = uuid.UUID("3b0d8a52-6a51-5c1e-8f0b-9e7a1c4d2f60")
EUR_PER_USD = 0.92

#: The demo catalog's namespace of product ids (``agora/services/catalog/seed.py``: a product's id
#: is uuid5 of ``product:<sku>`` in it), mirrored by hand like ads mirrors its category slugs, never
#: imported: services share nothing but contracts. The history is about products the shop sells.
CATALOG_NAMESPACE = uuid.UUID("6f1c7f0e-2b8a-5d4e-9a63-0c2f4e8b7a15")

#: sku, name, unit price in US cents (the demo catalog's), base units/day, trend over the period
PRODUCTS: tuple[tuple[str, str, int, float, float], ...] = (
    ("FTW-RUN-001", "Northwind Trailblazer Running Shoe", 7899, 6.0, 0.3),
    ("APP-SHR-001", "Linden & Co Classic Oxford Shirt", 4899, 9.0, 0.0),  # the steady seller (tests use it)
    ("FTW-HIK-001", "Stridewell Summit Hiking Boot", 19099, 2.5, 0.1),
    ("KIT-SKL-001", "Hearthstone Professional Cast Iron Skillet", 6499, 4.0, -0.2),
    ("KIT-KNF-001", "Copperpot Everyday Chef Knife", 18899, 1.5, 0.1),
    ("ELC-HDP-001", "Voltaic Pro Wireless Headphones", 24099, 2.0, 0.4),
    ("HOM-LMP-001", "Willowmere Nordic Table Lamp", 15899, 2.5, 0.1),
    ("OUT-TNT-001", "Ridgeback Alpine Two-Person Tent", 44899, 1.0, 0.5),
    ("BKS-CKB-001", "Pelham Press Illustrated Cookbook", 2399, 7.0, -0.1),
    ("TOY-BRG-001", "Tinker & Twig Classic Strategy Board Game", 3899, 5.0, 0.2),
    ("BTY-MOI-001", "Verdant Botanics Gentle Face Moisturiser", 3599, 8.0, 0.0),
    ("SPT-YOG-001", "Apex Motion Performance Yoga Mat", 7099, 4.5, -0.3),
)


def product_id(sku: str) -> str:
    """The demo catalog's id of the product ``sku`` (so the history's products link to real pages)."""
    return str(uuid.uuid5(CATALOG_NAMESPACE, f"product:{sku}"))


def demo_history(days: int, last_day: Any, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """The rows to insert (pure): ``orders``, ``lines`` and ``activity``, for ``days`` days up to ``last_day``."""
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    activity: list[dict[str, Any]] = []
    now = utcnow()
    users = [f"demo-user-{n:04d}" for n in range(1, 5001)]
    first_day = last_day - timedelta(days=days - 1)
    serial = 0

    def order(at: datetime, user: str, picks: list[tuple[int, int]], currency: str, *, status: str = PAID) -> None:
        nonlocal serial
        serial += 1
        order_id = str(uuid.uuid5(NAMESPACE, f"order:{serial}"))
        rate = 1.0 if currency == "USD" else EUR_PER_USD
        subtotal = 0
        units = 0
        for position, (index, quantity) in enumerate(picks):
            sku, name, price, _, _ = PRODUCTS[index]
            amount = round(price * rate) * quantity
            subtotal += amount
            units += quantity
            if status != FAILED:
                lines.append(
                    {
                        "order_id": order_id,
                        "position": position,
                        "product_id": product_id(sku),
                        "sku": sku,
                        "name": name,
                        "quantity": quantity,
                        "amount": amount,
                    }
                )
        shipping = 0 if subtotal >= round(5000 * rate) else round(599 * rate)
        failed = status == FAILED
        orders.append(
            {
                "order_id": order_id,
                "user_id": user,
                "status": status,
                "currency": None if failed else currency,
                "subtotal": None if failed else subtotal,
                "shipping": None if failed else shipping,
                "total": None if failed else subtotal + shipping,
                "units": 0 if failed else units,
                "checkout_at": at,
                "paid_at": None if failed else at + timedelta(seconds=rng.randint(2, 30)),
                "cancelled_at": None,
                "demo": True,
                "recorded_at": now,
            }
        )

    for offset in range(days):
        day = first_day + timedelta(days=offset)
        progress = offset / max(days - 1, 1)
        weekend = 1.3 if day.weekday() >= 5 else 1.0
        # each product's units for the day, then packed into orders of 1-3 lines
        demand: list[int] = []
        for _, _, _, base, trend in PRODUCTS:
            mean = base * (1 + trend * progress) * weekend
            demand.append(_poisson(rng, mean))
        pending = [(index, 1) for index, n in enumerate(demand) for _ in range(n)]
        rng.shuffle(pending)
        day_orders = 0
        while pending:
            size = min(len(pending), rng.choice((1, 1, 1, 2, 2, 3)))
            picks: dict[int, int] = {}
            for index, quantity in pending[:size]:
                picks[index] = picks.get(index, 0) + quantity
            pending = pending[size:]
            at = datetime.combine(day, time(rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59)), tzinfo=UTC)
            order(at, rng.choice(users), sorted(picks.items()), "EUR" if rng.random() < 0.2 else "USD")
            day_orders += 1
        failed = sum(1 for _ in range(day_orders) if rng.random() < 0.05)
        for _ in range(failed):
            at = datetime.combine(day, time(rng.randint(7, 22), rng.randint(0, 59)), tzinfo=UTC)
            order(at, rng.choice(users), [(rng.randrange(len(PRODUCTS)), 1)], "USD", status=FAILED)
        noon = datetime.combine(day, time(12), tzinfo=UTC)
        for kind, factor in ((VIEW, 25), (CART, 3)):
            for index in range(len(PRODUCTS)):
                weight = max(1, round(demand[index] * factor * rng.uniform(0.8, 1.2)))
                activity.append(
                    {
                        "kind": kind,
                        "product_id": product_id(PRODUCTS[index][0]),
                        "user_id": None,
                        "occurred_at": noon,
                        "weight": weight,
                        "demo": True,
                    }
                )

    # planted anomalies, two weeks before the end
    spike_day = datetime.combine(last_day - timedelta(days=14), time(3, 17), tzinfo=UTC)
    order(spike_day, "demo-user-9001", [(5, 25), (10, 15)], "USD")
    burst = datetime.combine(last_day - timedelta(days=9), time(1, 5), tzinfo=UTC)
    for n in range(8):
        order(burst + timedelta(minutes=15 * n), "demo-user-9002", [(1, 1)], "USD")
    return {"orders": orders, "lines": lines, "activity": activity}


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means of the demo
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


async def seed(context: ServiceContext) -> int:
    """The spec's seed hook: one transaction; returns the rows inserted (0 when already seeded)."""
    settings = context.settings_as(AnalyticsSettings)
    async with unit_of_work(context) as session:
        repository = AnalyticsRepository(session)
        if await repository.any_demo():
            return 0
        rows = demo_history(settings.seed_days, utcnow().date() - timedelta(days=1), random.Random(SEED))
        await repository.bulk(OrderFact.__table__, rows["orders"])
        await repository.bulk(OrderFactLine.__table__, rows["lines"])
        await repository.bulk(Activity.__table__, rows["activity"])
    return sum(len(value) for value in rows.values())
