"""Consuming events idempotently: inbox, retries with backoff, dead letters.

For each delivered event the handler runs in one transaction with the insert of an inbox row
``(consumer, event_id)``. The broker may deliver an event twice (at-least-once everywhere); the
second delivery finds the inbox row and does nothing, so each event's effect happens exactly
once. The broker message is acknowledged only after that transaction committed.

A handler that keeps failing is retried with exponential backoff and jitter, then recorded in
``dead_letters`` (with the inbox row, so a redelivery does not start over) and acknowledged,
so one poison event never blocks the ones behind it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from opentelemetry import trace
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work
from agora.platform.messaging.envelope import Envelope, topic_of
from agora.platform.messaging.metrics import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    HANDLER_FAILURES,
    HANDLING_DURATION,
    preinitialise_consumer,
)
from agora.platform.messaging.tables import dead_letters, inbox
from agora.platform.messaging.tracing import carried_context, messaging_system
from agora.platform.messaging.transports.base import Subscription, Transport

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]

DLQ_SUFFIX = ".dlq"
_ERROR_LIMIT = 4000


class Outcome(StrEnum):
    handled = "handled"
    duplicate = "duplicate"
    dead_lettered = "dead_lettered"
    ignored = "ignored"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


class Consumer:
    """One named consumer (the broker group, and the inbox's ``consumer`` column)."""

    def __init__(
        self,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.05,
        backoff_max: float = 5.0,
        holds_readiness: bool = False,
    ) -> None:
        """``holds_readiness``: the service answers wrongly until this consumer has caught up with
        what waited at start-up (inventory's stock comes from the catalog's products), so its
        ``/readyz`` waits for it (:mod:`.catchup`). Consumers whose lag only delays a side effect
        (an email, a chart) catch up while the service is ready."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.name = name
        self.holds_readiness = holds_readiness
        self._sessions = sessions
        self._transport = transport
        self._system = messaging_system(transport)
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._handlers: dict[str, EventHandler] = {}
        self._subscriptions: list[Subscription] = []
        self.on_commit: Callable[[AsyncSession], None] | None = None
        """Called with the session once a handler's transaction committed (the chassis wakes the
        service's relay there, and runs the session's after-commit callbacks)."""

    def on(self, event_type: str, handler: EventHandler) -> EventHandler:
        """Register ``handler`` for ``event_type`` (before :meth:`start`); returns the handler."""
        if event_type in self._handlers:
            raise ValueError(f"{self.name} already handles {event_type}")
        self._handlers[event_type] = handler
        return handler

    @property
    def topics(self) -> list[str]:
        return sorted({topic_of(event_type) for event_type in self._handlers})

    async def start(self) -> None:
        """Subscribe to every topic a registered event type belongs to."""
        # "ignored" is left out: its types are whatever else travels on the topics
        preinitialise_consumer(self.name, self._handlers, [o for o in Outcome if o is not Outcome.ignored])
        for topic in self.topics:
            self._subscriptions.append(await self._transport.subscribe(topic, self.name, self.dispatch))

    async def backlog(self) -> int | None:
        """Events of its topics this consumer has not handled yet; None when the broker cannot tell."""
        total = 0
        for topic in self.topics:
            waiting = await self._transport.backlog(topic, self.name)
            if waiting is None:
                return None
            total += waiting
        return total

    async def stop(self) -> None:
        """Stop receiving; a handler in flight is cancelled and its transaction rolled back."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.stop()

    async def dispatch(self, envelope: Envelope) -> None:
        """Handle one delivered event. Returning acknowledges it to the transport."""
        started = time.perf_counter()
        CONSUMER_LAG.labels(consumer=self.name).set(max(0.0, (datetime.now(UTC) - envelope.time).total_seconds()))
        handler = self._handlers.get(envelope.type)
        if handler is None:  # another event on a topic we follow: not ours
            EVENTS_CONSUMED.labels(self.name, envelope.type, Outcome.ignored).inc()
            return
        # the envelope carries the relay's send span (or the writer's span): the parent, so the
        # handling joins the trace of the request that caused it (agora.platform.messaging.tracing)
        with tracer.start_as_current_span(
            f"{envelope.type} process",
            context=carried_context(envelope),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": self._system,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": topic_of(envelope.type),
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": envelope.id,
                "cloudevents.event_type": envelope.type,
            },
        ):
            outcome = await self._handle_with_retries(handler, envelope)
        EVENTS_CONSUMED.labels(self.name, envelope.type, outcome).inc()
        HANDLING_DURATION.labels(self.name).observe(time.perf_counter() - started)

    async def _handle_with_retries(self, handler: EventHandler, envelope: Envelope) -> Outcome:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._handle_once(handler, envelope)
            except Exception as exc:
                HANDLER_FAILURES.labels(self.name, envelope.type).inc()
                trace.get_current_span().record_exception(exc)
                if attempt >= self._max_attempts:
                    log.exception("%s: dead-lettering %s after %d attempts", self.name, envelope.id, attempt)
                    return await self._dead_letter(envelope, exc, attempt)
                log.warning("%s: handler failed for %s (attempt %d)", self.name, envelope.id, attempt)
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter: retries of many events spread out

    async def _handle_once(self, handler: EventHandler, envelope: Envelope) -> Outcome:
        async with unit_of_work(self._sessions) as session:
            if not await _claim_inbox(session, self.name, envelope.id):
                return Outcome.duplicate
            await handler(session, envelope)
            await session.commit()
            if self.on_commit is not None:
                self.on_commit(session)
        return Outcome.handled

    async def _dead_letter(self, envelope: Envelope, exc: Exception, attempts: int) -> Outcome:
        """Park the event for an operator; raises (so the broker redelivers) if even that fails."""
        topic = topic_of(envelope.type)
        async with unit_of_work(self._sessions) as session:
            if not await _claim_inbox(session, self.name, envelope.id):
                return Outcome.duplicate  # another member handled it meanwhile
            await session.execute(
                insert(dead_letters).values(
                    consumer=self.name,
                    topic=topic,
                    event_id=envelope.id,
                    event_type=envelope.type,
                    payload=envelope.to_bytes().decode(),
                    error=repr(exc)[:_ERROR_LIMIT],
                    attempts=attempts,
                    created_at=datetime.now(UTC),
                )
            )
            await session.commit()
        await self._publish_dead_letter(topic, envelope)
        return Outcome.dead_lettered

    async def _publish_dead_letter(self, topic: str, envelope: Envelope) -> None:
        # Best effort: the table is the record of truth, the topic is for tooling and alerts.
        try:
            await self._transport.publish(dead_letter_topic(topic), envelope, key=envelope.subject)
        except Exception:
            log.warning("%s: could not publish %s to the dead-letter topic", self.name, envelope.id, exc_info=True)


async def _claim_inbox(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Insert the inbox row; False if this consumer already handled (or parked) the event.

    The insert is the check: under concurrent duplicate deliveries the second insert waits on
    the first transaction's key lock and then fails, so both cannot run the handler. Must be
    the first statement of the transaction.
    """
    # No savepoint: this is the transaction's first statement, and a failed insert is followed
    # by the unit of work's rollback. (SAVEPOINT as a first statement misbehaves on pysqlite.)
    try:
        await session.execute(insert(inbox).values(consumer=consumer, event_id=event_id, handled_at=datetime.now(UTC)))
    except IntegrityError:
        return False
    return True


async def replay_dead_letter(
    sessions: async_sessionmaker[AsyncSession],
    transport: Transport,
    dead_letter_id: int,
    *,
    deliver: Callable[[str, str, Envelope], Awaitable[None]] | None = None,
) -> Envelope:
    """Send a dead-lettered event to its topic again so its consumer retries it.

    The inbox row that parked it is deleted and ``replayed_at`` set, committed *before* the
    publish so the redelivery cannot race the deletion. If the publish fails, the row is marked
    unreplayed again and the error propagates. ``deliver(consumer, topic, envelope)`` replaces the
    publish (an operator command with the in-process broker hands the event to the consumer itself).
    """
    async with unit_of_work(sessions) as session:
        row = (await session.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id))).one_or_none()
        if row is None:
            raise LookupError(f"no dead letter {dead_letter_id}")
        envelope = Envelope.from_bytes(row.payload)
        await session.execute(delete(inbox).where(inbox.c.consumer == row.consumer, inbox.c.event_id == row.event_id))
        await _set_replayed(session, dead_letter_id, datetime.now(UTC))
        await session.commit()
    try:
        if deliver is not None:
            await deliver(row.consumer, row.topic, envelope)
        else:
            await transport.publish(row.topic, envelope, key=envelope.subject)
    except Exception:
        async with unit_of_work(sessions) as session:
            await _set_replayed(session, dead_letter_id, None)
            await session.commit()
        raise
    return envelope


async def _set_replayed(session: AsyncSession, dead_letter_id: int, when: datetime | None) -> None:
    await session.execute(update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(replayed_at=when))


async def list_dead_letters(
    sessions: async_sessionmaker[AsyncSession], *, include_replayed: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """The parked events, oldest first: what an operator looks at before replaying them."""
    statement = select(
        dead_letters.c.id,
        dead_letters.c.consumer,
        dead_letters.c.topic,
        dead_letters.c.event_id,
        dead_letters.c.event_type,
        dead_letters.c.error,
        dead_letters.c.attempts,
        dead_letters.c.created_at,
        dead_letters.c.replayed_at,
    ).order_by(dead_letters.c.id)
    if not include_replayed:
        statement = statement.where(dead_letters.c.replayed_at.is_(None))
    async with unit_of_work(sessions) as session:
        rows = (await session.execute(statement.limit(limit))).all()
    return [dict(row._mapping) for row in rows]
