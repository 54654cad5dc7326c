"""The end-to-end guarantee: every committed event has its effect exactly once.

Outbox -> relay -> broker -> consumer group -> handler effect, on every transport and on SQLite
and PostgreSQL, with a consumer cancelled half-way and replaced by a new member of the group.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.messaging import Consumer, Envelope, Outbox, OutboxRelay, Transport, outbox
from agora.platform.testing.brokers import unique_name

from .helpers import count, effects, record_effect, wait_until, write_events

pytestmark = pytest.mark.slow

TOTAL = 1_000
PER_TRANSACTION = 125


async def test_each_committed_event_has_exactly_one_effect_across_a_consumer_crash(
    sessions: async_sessionmaker[AsyncSession], dialect: str, transport: Transport
) -> None:
    topic = unique_name("exo")
    event_type = f"{topic}.item.created"
    source = Outbox("agora/test")
    group = unique_name("group")

    committed: list[Envelope] = []
    for start in range(0, TOTAL, PER_TRANSACTION):
        committed += await write_events(sessions, source, event_type, range(start, start + PER_TRANSACTION))
    rolled_back = await write_events(sessions, source, event_type, range(TOTAL, TOTAL + 50), commit=False)

    handled_by_first = 0
    halfway = asyncio.Event()

    async def first_handler(session: AsyncSession, envelope: Envelope) -> None:
        nonlocal handled_by_first
        await record_effect(session, envelope)
        handled_by_first += 1
        if handled_by_first >= TOTAL // 2:
            halfway.set()

    relay = OutboxRelay(sessions, transport, dialect=dialect, batch_size=200, poll_interval=0.2)
    first = Consumer(group, sessions, transport)
    first.on(event_type, first_handler)
    relay.start()
    try:
        await first.start()
        await asyncio.wait_for(halfway.wait(), timeout=60)
        await first.stop()  # cancels the handler in flight: its transaction rolls back, no ack
        assert handled_by_first < TOTAL, "the first consumer finished before it could be stopped"

        second = Consumer(group, sessions, transport)
        second.on(event_type, record_effect)
        await second.start()
        try:
            await wait_until(
                lambda: _distinct_effects_reach(sessions, TOTAL), within=90, what=f"{TOTAL} distinct effects"
            )
        finally:
            await second.stop()
    finally:
        await relay.stop()

    async with sessions() as session:
        rows = (await session.execute(select(effects.c.event_id, func.count()).group_by(effects.c.event_id))).all()
        unpublished = (await session.execute(select(func.count()).where(outbox.c.published_at.is_(None)))).scalar_one()
    per_event = dict(rows)
    assert len(per_event) == TOTAL
    assert set(per_event) == {e.id for e in committed}
    assert all(n == 1 for n in per_event.values()), "an event had its effect more than once"
    assert not set(per_event) & {e.id for e in rolled_back}
    assert unpublished == 0


async def _distinct_effects_reach(sessions: async_sessionmaker[AsyncSession], total: int) -> bool:
    return await count(sessions, effects.c.event_id, distinct=True) >= total
