"""A service is ready once it has published and handled what waited for it at start-up (issue 12,
defect 8), on every broker that can report a consumer group's backlog."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.messaging import Consumer, Outbox, OutboxRelay, Transport, create_transport
from agora.platform.messaging.catchup import NotCaughtUp, StartupCatchUp, publish_outbox
from agora.platform.testing.brokers import unique_name

from .helpers import count, effects, record_effect, wait_until, write_events


@pytest.fixture
def database_backend_name() -> str:
    return "sqlite"  # the broker is what differs here; the outbox query is the relay's own


@pytest.fixture(params=("memory", "nats", "redis"))
async def reporting_transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    name = str(request.param)
    url = "memory://" if name == "memory" else str(request.getfixturevalue(f"{name}_url"))
    transport = create_transport(url)
    await transport.start()
    try:
        yield transport
    finally:
        await transport.close()


async def _caught_up(catch_up: StartupCatchUp) -> bool:
    try:
        await catch_up.check()
    except NotCaughtUp:
        return False
    return True


async def test_ready_after_the_waiting_events_are_published_then_handled(
    reporting_transport: Transport, sessions: async_sessionmaker[AsyncSession], dialect: str
) -> None:
    event_type = f"{unique_name('catchup')}.thing.happened"
    consumer = Consumer(unique_name("group"), sessions, reporting_transport, holds_readiness=True)
    bystander = Consumer(unique_name("bystander"), sessions, reporting_transport)  # never handles
    bystander.on(event_type, record_effect)
    await bystander.start()
    await bystander.stop()
    consumer.on(event_type, record_effect)
    await consumer.start()  # the group exists, as it does once a service has started
    await consumer.stop()
    await write_events(sessions, Outbox("agora/test"), event_type, range(5))
    relay = OutboxRelay(sessions, reporting_transport, dialect=dialect)
    catch_up = StartupCatchUp(relay, [consumer, bystander])

    with pytest.raises(NotCaughtUp, match="outbox"):
        await catch_up.check()
    assert await publish_outbox(relay) == 5
    with pytest.raises(NotCaughtUp, match="5 events to handle"):
        await catch_up.check()

    await consumer.start()
    try:
        await wait_until(lambda: _caught_up(catch_up), within=30, what="caught up")
        assert await count(sessions, effects.c.id) == 5
        # once caught up, later traffic is lag, not unreadiness
        await consumer.stop()
        await write_events(sessions, Outbox("agora/test"), event_type, range(5, 8))
        await publish_outbox(relay)
        await catch_up.check()
    finally:
        await consumer.stop()
