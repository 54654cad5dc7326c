"""A real broker stops and comes back: events wait in the outbox and arrive once (SPEC §6).

The broker is a private NATS server with JetStream on disk, owned by the test (the machine's
shared one is never stopped): the relay keeps failing while it is down, the consumer reconnects,
and every event written meanwhile is handled exactly once after the restart.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.messaging import Consumer, Outbox, OutboxRelay, create_transport
from agora.platform.testing.brokers import PrivateNats, unique_name

from .helpers import count, effects, record_effect, wait_until, write_events

pytestmark = pytest.mark.backend("nats")


@pytest.mark.parametrize("database_backend_name", ["sqlite", "postgresql"])
async def test_events_wait_while_nats_is_down_and_arrive_once(
    sessions: async_sessionmaker[AsyncSession], dialect: str, private_nats: PrivateNats
) -> None:
    transport = create_transport(private_nats.url)
    await transport.start()
    topic = unique_name("outage")
    event_type = f"{topic}.item.created"
    consumer = Consumer(unique_name("group"), sessions, transport)
    consumer.on(event_type, record_effect)
    await consumer.start()
    relay = OutboxRelay(sessions, transport, dialect=dialect, poll_interval=0.05, max_backoff=0.5)
    relay.start()
    try:
        await write_events(sessions, Outbox("agora/test"), event_type, range(5))
        await wait_until(lambda: _effects(sessions, 5), within=30, what="the first 5 events")

        private_nats.stop()
        await write_events(sessions, Outbox("agora/test"), event_type, range(5, 15))
        relay.notify()
        await wait_until(lambda: _attempted(sessions), within=15, what="the relay to meet the outage")
        assert await count(sessions, effects.c.id) == 5  # nothing got through

        private_nats.start()
        await wait_until(lambda: _effects(sessions, 15), within=60, what="all 15 events after the restart")
    finally:
        await relay.stop()
        await consumer.stop()
        await transport.close()
    assert await count(sessions, effects.c.id) == 15
    assert await count(sessions, effects.c.event_id, distinct=True) == 15


async def _effects(sessions: async_sessionmaker[AsyncSession], total: int) -> bool:
    return await count(sessions, effects.c.id) >= total


async def _attempted(sessions: async_sessionmaker[AsyncSession]) -> bool:
    from sqlalchemy import func, select

    from agora.platform.messaging import outbox

    async with sessions() as session:
        failed = await session.scalar(select(func.count()).select_from(outbox).where(outbox.c.attempts > 0))
    return bool(failed)


async def test_closing_while_nats_is_away_is_bounded_and_final(private_nats: PrivateNats) -> None:
    """A shutdown during an outage: drain is refused while reconnecting, the close still ends."""
    import asyncio

    from agora.platform.messaging.transports.base import TransportError

    transport = create_transport(private_nats.url)
    await transport.start()
    private_nats.stop()

    async def away() -> bool:
        try:
            await transport.ping()
        except TransportError:
            return True
        return False

    await wait_until(away, within=30, what="the transport to notice the outage")
    await asyncio.wait_for(transport.close(), timeout=30)
    private_nats.start()  # the fixture stops what it started
