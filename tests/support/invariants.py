"""What must hold once a fault is over, read from each service's own database.

One checker for every fault test (tests/faults): after the load and the fault, the platform is
given time to finish what it started (sagas recovered by their lease, outboxes relayed), then:

* every paid order has exactly one captured charge and a committed reservation, and took its lines
  off the stock once (per SKU: stock before - stock after = the paid orders' quantities);
* no captured charge without a paid order (a failed order's charge was refunded);
* stock is never negative and nothing is left reserved;
* every failed order was compensated: no captured charge, its reservation not held nor committed;
* no order is left pending;
* every outbox is drained;
* one order_paid notification per paid order, at most one email per order and kind.

Hand-written SQL over asyncpg on purpose: the checker must not share the services' code it checks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

PAID_LIKE = ("paid", "shipped", "delivered")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _rows(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


@dataclass(frozen=True)
class Baseline:
    """What existed before the load: the orders to leave out, the stock to count from."""

    orders: frozenset[str]
    on_hand: Mapping[str, int]


async def baseline(databases: Mapping[str, str]) -> Baseline:
    orders = await _rows(databases["orders"], "SELECT id FROM orders")
    stock = await _rows(databases["inventory"], "SELECT sku, on_hand FROM stock")
    return Baseline(frozenset(row["id"] for row in orders), {row["sku"]: row["on_hand"] for row in stock})


# C901 waived: one check after another over the same rows, a checklist read top to bottom
async def violations(databases: Mapping[str, str], before: Baseline) -> list[str]:  # noqa: C901
    """Every invariant that does not hold right now (empty: all hold)."""
    found: list[str] = []
    orders = {
        row["id"]: row["status"]
        for row in await _rows(databases["orders"], "SELECT id, status FROM orders")
        if row["id"] not in before.orders
    }
    items = [
        row
        for row in await _rows(databases["orders"], "SELECT order_id, sku, quantity FROM order_items")
        if row["order_id"] in orders
    ]
    charges = await _rows(databases["payments"], "SELECT order_id, status FROM charges")
    captured = Counter(row["order_id"] for row in charges if row["status"] == "captured")
    reservations = {
        row["id"]: row["status"] for row in await _rows(databases["inventory"], "SELECT id, status FROM reservations")
    }
    stock = await _rows(databases["inventory"], "SELECT sku, on_hand, reserved FROM stock")

    paid = {order for order, status in orders.items() if status in PAID_LIKE}
    pending = sorted(order for order, status in orders.items() if status == "pending")
    if pending:
        found.append(f"{len(pending)} order(s) still pending: {pending[:5]}")
    for order in sorted(paid):
        if captured[order] != 1:
            found.append(f"paid order {order} has {captured[order]} captured charge(s)")
        if reservations.get(order) != "committed":
            found.append(f"paid order {order}: reservation {reservations.get(order)!r}, not committed")
    for order, count in captured.items():
        if count > 1:
            found.append(f"order {order} has {count} captured charges")
        if order not in paid and (order in orders or order not in before.orders):
            found.append(f"captured charge for order {order} ({orders.get(order, 'no such order')}), not refunded")
    for order, status in orders.items():
        if status == "failed" and reservations.get(order) in ("held", "committed"):
            found.append(f"failed order {order} kept its reservation ({reservations[order]})")

    taken: Counter[str] = Counter()
    for row in items:
        if row["order_id"] in paid:
            taken[row["sku"]] += row["quantity"]
    for row in stock:
        if row["on_hand"] < 0 or row["reserved"] < 0:
            found.append(f"stock of {row['sku']} negative: {row['on_hand']} on hand, {row['reserved']} reserved")
        if row["reserved"] != 0:
            found.append(f"stock of {row['sku']}: {row['reserved']} still reserved")
        if row["sku"] in before.on_hand and before.on_hand[row["sku"]] - row["on_hand"] != taken[row["sku"]]:
            found.append(
                f"stock of {row['sku']} went from {before.on_hand[row['sku']]} to {row['on_hand']}, "
                f"but paid orders took {taken[row['sku']]}"
            )

    for service, url in sorted(databases.items()):
        unpublished = await _rows(url, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
        if unpublished[0]["n"]:
            found.append(f"{service}: {unpublished[0]['n']} event(s) still in the outbox")

    if "notifications" in databases:
        notified = Counter(
            row["order_id"]
            for row in await _rows(
                databases["notifications"], "SELECT order_id FROM notifications WHERE kind = $1", "order_paid"
            )
        )
        for order in sorted(paid):
            if notified[order] != 1:
                found.append(f"paid order {order}: {notified[order]} order_paid notification(s)")
        emails = Counter(
            (row["order_id"], row["kind"])
            for row in await _rows(databases["notifications"], "SELECT order_id, kind FROM emails")
        )
        found.extend(f"{count} emails {kind} for order {order}" for (order, kind), count in emails.items() if count > 1)
    return found


async def settled(databases: Mapping[str, str], before: Baseline, *, within: float = 60.0) -> float:
    """Waits until every invariant holds (the platform finishes on its own what the fault
    interrupted); returns how long that took, or fails with what still does not hold."""
    started = time.monotonic()
    while True:
        found = await violations(databases, before)
        if not found:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"invariants still broken {within:g}s after the fault:\n" + "\n".join(found[:30]))
        await asyncio.sleep(0.5)  # relays, consumers and saga recovery run in other processes


__all__ = ["Baseline", "baseline", "settled", "violations"]
