"""An event a consumer's handler writes goes out at once, like a request's: the chassis wakes the
service's relay after the handler's commit (``Consumer.on_commit`` → ``committed``) instead of
leaving it to the relay's next poll, which an idle service stretches to 30 s."""

from __future__ import annotations

import asyncio
import functools
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db.session import committed
from agora.platform.messaging import Consumer, Envelope, Outbox, OutboxRelay, Transport
from agora.platform.testing.brokers import unique_name

from .helpers import write_events

#: Far longer than the test waits: an event published within it was published by a wake.
POLL = 60.0


async def test_an_event_written_by_a_handler_is_published_without_waiting_for_a_poll(
    sessions: async_sessionmaker[AsyncSession], dialect: str, transport: Transport
) -> None:
    first, second = unique_name("wake"), unique_name("woken")
    source = Outbox("agora/test")
    relay = OutboxRelay(sessions, transport, dialect=dialect, poll_interval=POLL)
    arrived = asyncio.Event()

    async def react(session: AsyncSession, envelope: Envelope) -> None:  # writes the next event
        await source.add(session, f"{second}.item.created", {"seq": envelope.data["seq"]})

    async def record(session: AsyncSession, envelope: Envelope) -> None:
        arrived.set()

    reacting, recording = (
        Consumer(unique_name("react"), sessions, transport),
        Consumer(unique_name("rec"), sessions, transport),
    )
    reacting.on(f"{first}.item.created", react)
    recording.on(f"{second}.item.created", record)
    context: Any = SimpleNamespace(relay=relay)  # all that committed() reads of a service context
    reacting.on_commit = functools.partial(committed, context)
    relay.start()
    try:
        for consumer in (reacting, recording):
            await consumer.start()
        await write_events(sessions, source, f"{first}.item.created", range(1))
        relay.notify()  # as a request's commit does
        await asyncio.wait_for(arrived.wait(), timeout=20)
    finally:
        for consumer in (reacting, recording):
            await consumer.stop()
        await relay.stop()
