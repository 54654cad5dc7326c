"""Gauges of a service's event pipeline that only a query can tell: dead letters waiting in its
database and what its consumers have not received yet from the broker.

A periodic task of the chassis (:func:`event_gauges_task`) refreshes them every few seconds rather
than on every scrape: a ``/metrics`` answer stays free of database and broker calls, and an
operator's ``agora dead-letters replay`` in another process is seen at the next refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work
from agora.platform.messaging.consumer import Consumer
from agora.platform.messaging.metrics import CONSUMER_BACKLOG, DEAD_LETTERS
from agora.platform.messaging.tables import dead_letters
from agora.platform.tasks import PeriodicTask

#: how often the gauges are refreshed: as often as Prometheus scrapes by default (15 s); a query
#: per service, fifteen of them in embedded mode's one process
REFRESH_SECONDS = 15.0
#: while every gauge reads 0 the refresh backs off to this many refresh intervals (60 s): an idle
#: ``agora up`` counted fifteen empty dead-letter tables every 15 s (~0.05 % of a core); a first
#: dead letter or backlog is then seen within a minute, and every 15 s once one is non-zero
IDLE_REFRESH_FACTOR = 4


async def refresh_event_gauges(sessions: async_sessionmaker[AsyncSession], consumers: Sequence[Consumer]) -> bool:
    """Sets the gauges; True when one of them is not 0 (the task then keeps its 15 s)."""
    names = [consumer.name for consumer in consumers]
    if not names:
        return False
    async with unit_of_work(sessions) as session:
        result = await session.execute(
            select(dead_letters.c.consumer, func.count())
            .where(dead_letters.c.replayed_at.is_(None), dead_letters.c.consumer.in_(names))
            .group_by(dead_letters.c.consumer)
        )
        waiting = {consumer: int(count) for consumer, count in result.all()}
    for name in names:
        DEAD_LETTERS.labels(name).set(waiting.get(name, 0))
    busy = any(waiting.values())
    for consumer in consumers:
        backlog = await consumer.backlog()
        if backlog is not None:
            CONSUMER_BACKLOG.labels(consumer.name).set(backlog)
        busy = busy or bool(backlog)
    return busy


def event_gauges_task(
    sessions: async_sessionmaker[AsyncSession],
    consumers: Sequence[Consumer],
    *,
    name: str = "event-gauges",
    interval: float = REFRESH_SECONDS,
) -> PeriodicTask:
    return PeriodicTask(
        name, interval, lambda: refresh_event_gauges(sessions, consumers), idle_factor=IDLE_REFRESH_FACTOR
    )
