"""Failure paths: poison events, duplicate deliveries, a broker that is down, competing relays."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.messaging import (
    Consumer,
    Envelope,
    Outbox,
    OutboxRelay,
    Outgoing,
    Transport,
    TransportError,
    dead_letters,
    outbox,
    replay_dead_letter,
)
from agora.platform.messaging.gauges import refresh_event_gauges
from agora.platform.messaging.transports.memory import MemoryTransport
from agora.platform.testing.brokers import unique_name

from .helpers import count, effects, record_effect, wait_until, write_events


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_poison_event_is_dead_lettered_and_others_still_flow(
    sessions: async_sessionmaker[AsyncSession], dialect: str, transport: Transport
) -> None:
    topic = unique_name("poison")
    event_type = f"{topic}.item.created"
    group = unique_name("group")
    poison_seq = 7
    healed = False

    async def handler(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.data["seq"] == poison_seq and not healed:
            raise RuntimeError("cannot handle seq 7")
        await record_effect(session, envelope)

    dlq_seen = asyncio.Event()

    async def on_dlq(envelope: Envelope) -> None:
        if envelope.data["seq"] == poison_seq:
            dlq_seen.set()

    dlq_subscription = await transport.subscribe(f"{topic}.dlq", unique_name("dlq-reader"), on_dlq)
    written = await write_events(sessions, Outbox("agora/test"), event_type, range(20))
    consumer = Consumer(group, sessions, transport, max_attempts=3, backoff_base=0.01)
    consumer.on(event_type, handler)
    relay = OutboxRelay(sessions, transport, dialect=dialect, poll_interval=0.1)
    relay.start()
    await consumer.start()
    try:
        await wait_until(lambda: _reaches(sessions, effects.c.event_id, 19), within=60, what="19 effects")
        await wait_until(lambda: _reaches(sessions, dead_letters.c.id, 1), within=30, what="a dead letter")
        await asyncio.wait_for(dlq_seen.wait(), timeout=30)

        async with sessions() as session:
            letter = (await session.execute(select(dead_letters))).one()
        assert letter.event_id == written[poison_seq].id
        assert letter.attempts == 3
        assert letter.consumer == group
        assert "cannot handle seq 7" in letter.error
        assert _metric("agora_events_consumed_total", consumer=group, type=event_type, outcome="dead_lettered") == 1
        assert _metric("agora_event_handler_failures_total", consumer=group, type=event_type) == 3
        # a waiting dead letter keeps the gauges' refresh at its interval (it backs off at 0)
        assert await refresh_event_gauges(sessions, [consumer])
        assert _metric("agora_dead_letters", consumer=group) == 1

        healed = True
        await replay_dead_letter(sessions, transport, letter.id)
        await wait_until(lambda: _reaches(sessions, effects.c.event_id, 20), within=60, what="the replayed effect")
    finally:
        await consumer.stop()
        await relay.stop()
        await dlq_subscription.stop()
    async with sessions() as session:
        replayed_at = (await session.execute(select(dead_letters.c.replayed_at))).scalar_one()
    assert replayed_at is not None
    assert await count(sessions, effects.c.id) == 20


async def test_duplicate_delivery_has_one_effect(
    sessions: async_sessionmaker[AsyncSession], transport: Transport
) -> None:
    topic = unique_name("dup")
    event_type = f"{topic}.item.created"
    group = unique_name("group")
    envelope = Envelope(type=event_type, source="agora/test", data={"seq": 1})
    consumer = Consumer(group, sessions, transport)
    consumer.on(event_type, record_effect)

    await transport.publish(topic, envelope)
    await transport.publish(topic, envelope)
    await consumer.start()
    try:
        await wait_until(
            lambda: _metric("agora_events_consumed_total", consumer=group, type=event_type, outcome="duplicate") == 1,
            within=60,
            what="the second delivery to be recognised as a duplicate",
        )
    finally:
        await consumer.stop()
    assert _metric("agora_events_consumed_total", consumer=group, type=event_type, outcome="handled") == 1
    assert await count(sessions, effects.c.id) == 1


class BrokerDown(MemoryTransport):
    """A memory broker whose publish fails while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.refused = asyncio.Event()

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        if self.down:
            self.refused.set()
            raise TransportError("broker unreachable (simulated)")
        await super().publish_many(messages)


async def test_relay_keeps_events_while_the_broker_is_down_then_delivers_once(
    sessions: async_sessionmaker[AsyncSession], dialect: str
) -> None:
    transport = BrokerDown()
    topic = unique_name("down")
    event_type = f"{topic}.item.created"
    failures_before = _metric("agora_outbox_publish_failures_total")
    await write_events(sessions, Outbox("agora/test"), event_type, range(10))
    consumer = Consumer(unique_name("group"), sessions, transport)
    consumer.on(event_type, record_effect)
    await consumer.start()
    relay = OutboxRelay(sessions, transport, dialect=dialect, poll_interval=0.05, max_backoff=0.2)
    relay.start()
    try:
        await asyncio.wait_for(transport.refused.wait(), timeout=10)
        await wait_until(lambda: _attempted_twice(sessions), within=10, what="the relay to retry")
        assert await _unpublished(sessions) == 10
        assert await count(sessions, effects.c.id) == 0
        assert _metric("agora_outbox_publish_failures_total") >= failures_before + 2
        async with sessions() as session:
            errors = set((await session.execute(select(outbox.c.last_error))).scalars())
        assert all("simulated" in (error or "") for error in errors)

        transport.down = False
        await wait_until(lambda: _reaches(sessions, effects.c.id, 10), within=30, what="10 effects")
        await wait_until(lambda: _none_unpublished(sessions), within=10, what="rows marked published")
    finally:
        await relay.stop()
        await consumer.stop()
        await transport.close()
    assert await count(sessions, effects.c.id) == 10
    assert await count(sessions, effects.c.event_id, distinct=True) == 10


class Recording(MemoryTransport):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[str] = []

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        await asyncio.sleep(0.01)  # hold the row locks a moment, as a network round trip would
        self.published += [m.envelope.id for m in messages]


# not on SQLite: it has one writer, so one relay per SQLite database (documented)
@pytest.mark.parametrize("database_backend_name", ["postgresql", "mariadb"])
async def test_concurrent_relays_never_publish_a_row_twice(
    sessions: async_sessionmaker[AsyncSession], dialect: str
) -> None:
    transport = Recording()
    written = await write_events(sessions, Outbox("agora/test"), f"{unique_name('race')}.x.y", range(600))
    relays = [OutboxRelay(sessions, transport, dialect=dialect, batch_size=50) for _ in range(3)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.run_once():
            pass

    await asyncio.wait_for(asyncio.gather(*(drain(r) for r in relays)), timeout=60)
    assert sorted(transport.published) == sorted(e.id for e in written)
    assert await _unpublished(sessions) == 0


async def test_notify_wakes_the_relay_before_its_poll_interval(
    sessions: async_sessionmaker[AsyncSession], dialect: str, memory_transport: Transport
) -> None:
    topic = unique_name("notify")
    received = asyncio.Event()

    async def on_message(envelope: Envelope) -> None:
        received.set()

    subscription = await memory_transport.subscribe(topic, "g", on_message)
    relay = OutboxRelay(sessions, memory_transport, dialect=dialect, poll_interval=60)
    relay.start()
    try:
        # Give the relay's first (empty) pass time to finish, so the row below can only leave
        # through notify(); without notify it would wait the 60 s poll and the test would fail.
        await asyncio.sleep(0.2)
        async with sessions() as session:
            await Outbox("agora/test").add(session, f"{topic}.a.b", {"seq": 1})
            assert session.info.pop("outbox_dirty") is True
            await session.commit()
        relay.notify()
        await asyncio.wait_for(received.wait(), timeout=5)
    finally:
        await relay.stop()
        await subscription.stop()


async def _reaches(sessions: async_sessionmaker[AsyncSession], column: object, total: int) -> bool:
    return await count(sessions, column, distinct=True) >= total


async def _unpublished(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).where(outbox.c.published_at.is_(None)))).scalar_one())


async def _attempted_twice(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return bool((await session.execute(select(func.min(outbox.c.attempts)))).scalar_one() >= 2)


async def _none_unpublished(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return await _unpublished(sessions) == 0
