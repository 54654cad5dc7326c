"""The broker down for 60 s with events waiting in the outbox, for each protocol the cluster may
run: NATS JetStream and Kafka (tansu). Checkouts go on over HTTP; their events pile up in orders'
outbox; once the broker is back the relay drains it and every consumer gets each event once.

The Kafka test runs first, on a shop of its own that is stopped when it ends, so the two shops
never run at once on the machine's two cores."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import asyncpg
import pytest

from tests.support.fault_shop import FaultShop

pytestmark = [
    pytest.mark.faults,
    pytest.mark.backend("postgresql"),
    pytest.mark.backend("redis"),
    # the shop's own brokers are private servers; a shop start and a 60 s outage fit in the bound
    pytest.mark.timeout(330),
]

#: The issue's figure; shorten it (``FAULTS_BROKER_DOWN_SECONDS=10``) for a quick local run only.
DOWN_FOR = float(os.environ.get("FAULTS_BROKER_DOWN_SECONDS", "60"))
#: Once the broker is back, the events that waited must all be published within this.
DRAIN_WITHIN = 30.0


@dataclass
class Backlog:
    """The orders outbox when the broker came back: how many events waited, up to which row."""

    waiting: int = 0
    last_id: int = 0
    broke_at: float = 0.0
    healed_at: float = 0.0
    drained_after: float | None = None


async def _fetch(url: str, query: str, *args: object) -> asyncpg.Record:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        row = await connection.fetchrow(query, *args)
        assert row is not None
        return row
    finally:
        await connection.close()


async def _watch_drain(url: str, backlog: Backlog, since: float) -> None:
    """Polls orders' outbox (another process's table) until the rows that waited are published."""
    deadline = since + DRAIN_WITHIN
    query = "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL AND id <= $1"
    while (await _fetch(url, query, backlog.last_id))["n"]:
        if time.monotonic() > deadline:
            return  # drained_after stays None: the test says so
        await asyncio.sleep(0.25)
    backlog.drained_after = time.monotonic() - since


async def broker_down(shop: FaultShop, protocol: str) -> None:
    """Stops the shop's broker for :data:`DOWN_FOR` seconds under the checkout load, then checks
    what waited was relayed and (through the invariants) consumed once."""
    orders = shop.databases["orders"]
    backlog = Backlog()
    watching: list[asyncio.Task[None]] = []

    async def breaks() -> None:
        await asyncio.to_thread(shop.broker.stop)
        backlog.broke_at = time.monotonic()

    async def heals() -> None:
        waiting = "SELECT count(*) AS n, coalesce(max(id), 0) AS last FROM outbox WHERE published_at IS NULL"
        row = await _fetch(orders, waiting)
        backlog.waiting, backlog.last_id = row["n"], row["last"]
        await asyncio.to_thread(shop.broker.start)
        backlog.healed_at = time.monotonic()
        watching.append(asyncio.create_task(_watch_drain(orders, backlog, backlog.healed_at)))

    started = time.monotonic()
    try:
        figures = await shop.under_fault(f"{protocol} down", breaks, heals, down_for=DOWN_FOR)
    finally:
        await asyncio.gather(*watching)
    during = sum(1 for moment in figures.paid_at if backlog.broke_at <= moment < backlog.healed_at)
    drained = f"{backlog.drained_after:.1f} s" if backlog.drained_after is not None else "not"
    print(
        f"{protocol} down {DOWN_FOR:g} s: {during} checkouts paid during the outage, {backlog.waiting} events "
        f"waited in the orders outbox, drained {drained} after the broker was back; "
        f"fault phase {time.monotonic() - started:.1f} s"
    )
    assert backlog.waiting > 0, "events waited in the outbox during the outage"
    assert during >= 3, "checkouts went on while the broker was down"
    assert backlog.drained_after is not None, f"the events that waited were not relayed within {DRAIN_WITHIN:g} s"


@pytest.mark.backend("kafka")
async def test_kafka_broker_down_while_events_wait_in_the_outbox(kafka_shop: FaultShop) -> None:
    """tansu stopped (its log kept in S3) and started again on the same port."""
    await broker_down(kafka_shop, "Kafka (tansu)")


@pytest.mark.backend("nats")
async def test_nats_down_while_events_wait_in_the_outbox(shop: FaultShop) -> None:
    """NATS stopped (its JetStream store kept) and started again on the same port."""
    await broker_down(shop, "NATS")
