"""Writing events: the transactional outbox.

An event is a row inserted in the caller's transaction, next to the state change it describes.
If the transaction rolls back, the event never existed; if it commits, the relay
(:mod:`.relay`) publishes it. Nothing here talks to a broker, so a broker outage never fails a
business transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, overload

from opentelemetry import propagate
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.messaging.envelope import Envelope, topic_of
from agora.platform.messaging.tables import outbox
from agora.platform.messaging.tracing import creating

#: ``session.info`` flag the request session reads after commit to wake the relay at once.
OUTBOX_DIRTY = "outbox_dirty"


def current_trace_context() -> tuple[str | None, str | None]:
    """The active W3C ``traceparent``/``tracestate``, so the consumer's span joins this trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


class ContractEvent(Protocol):
    """An event as its contract model (``agora.contracts.base.Event``): the class names its type."""

    event_type: ClassVar[str]

    def model_dump(self, *, mode: str = ..., by_alias: bool | None = ...) -> dict[str, Any]: ...


class EventWriter(Protocol):
    """What business code needs of the outbox (tests may pass a recorder instead)."""

    async def add(
        self,
        session: AsyncSession,
        event_type: str,
        data: dict[str, Any],
        *,
        subject: str | None = None,
        key: str | None = None,
    ) -> Any: ...


class Outbox:
    """Adds events for one service (``source``, e.g. ``agora/orders``) to its outbox table."""

    def __init__(self, source: str) -> None:
        self.source = source

    @overload
    async def add(
        self, session: AsyncSession, event: ContractEvent, /, *, subject: str | None = None, key: str | None = None
    ) -> Envelope: ...
    @overload
    async def add(
        self,
        session: AsyncSession,
        event: str,
        data: dict[str, Any],
        /,
        *,
        subject: str | None = None,
        key: str | None = None,
    ) -> Envelope: ...
    async def add(
        self,
        session: AsyncSession,
        event: ContractEvent | str,
        data: dict[str, Any] | None = None,
        /,
        *,
        subject: str | None = None,
        key: str | None = None,
    ) -> Envelope:
        """Record ``event`` (its contract model; or, the older form, a type and a dict) in the
        caller's transaction; the caller commits (or not).

        ``key`` orders events on partitioned brokers (Kafka); it defaults to ``subject`` so all
        events about one order, say, keep their order.
        """
        if isinstance(event, str):
            event_type = event
            if data is None:
                raise TypeError("Outbox.add(session, event_type, data): the data is missing")
        else:
            event_type = type(event).event_type
            data = event.model_dump(mode="json", by_alias=True)
        with creating(event_type, self.source) as span:
            traceparent, tracestate = current_trace_context()  # the create span's, when there is one
            envelope = Envelope(
                type=event_type,
                source=self.source,
                data=data,
                subject=subject,
                traceparent=traceparent,
                tracestate=tracestate,
            )
            if span is not None:
                span.set_attribute("messaging.message.id", envelope.id)
            await session.execute(insert(outbox).values(**self._row(envelope, key or subject)))
        session.info[OUTBOX_DIRTY] = True
        return envelope

    def _row(self, envelope: Envelope, key: str | None) -> dict[str, Any]:
        return {
            "event_id": envelope.id,
            "source": envelope.source,
            "topic": topic_of(envelope.type),
            "type": envelope.type,
            "key": key,
            "payload": envelope.to_bytes().decode(),
            "created_at": datetime.now(UTC),
            "attempts": 0,
        }
