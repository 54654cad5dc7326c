"""An event's spans chain parent to child: the writer's span, create, the relay's send, the consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import create_engine, create_sessionmaker
from agora.platform.messaging import Consumer, Envelope, Outbox, OutboxRelay, create_transport, messaging_metadata
from agora.platform.messaging import tracing as messaging_tracing
from agora.platform.observability.tracing import configure_tracing


@cache
def exported() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("agora-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def one_event_through(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, Envelope]:
    """Writes one event inside a "request" span, relays it, consumes it; returns the request's
    span id and the envelope the consumer received."""
    transport = create_transport("memory://")
    await transport.start()
    received: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()

    async def handle(_: AsyncSession, envelope: Envelope) -> None:
        received.set_result(envelope)

    consumer = Consumer("mailer", sessions, transport)
    consumer.on("orders.order.paid", handle)
    await consumer.start()
    try:
        with trace.get_tracer("t").start_as_current_span("request", kind=SpanKind.SERVER) as request:
            async with sessions() as session:
                await Outbox("agora/orders").add(session, "orders.order.paid", {"n": 1}, subject="order/1")
                await session.commit()
        await OutboxRelay(sessions, transport, dialect="sqlite").run_once()
        envelope = await asyncio.wait_for(received, 10)
    finally:
        await consumer.stop()
        await transport.close()
    return request.get_span_context().span_id, envelope


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


async def test_the_consumer_is_the_child_of_the_relays_send_which_is_the_child_of_create(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messaging_tracing, "exporting", lambda: True)
    exporter = exported()
    exporter.clear()
    request_id, envelope = await one_event_through(sessions)
    spans = exporter.get_finished_spans()
    create, send = by_name(spans, "create orders"), by_name(spans, "send orders")
    process = by_name(spans, "orders.order.paid process")
    assert create.kind is send.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert create.parent is not None and create.parent.span_id == request_id
    assert send.parent is not None and send.parent.span_id == create.context.span_id
    assert process.parent is not None and process.parent.span_id == send.context.span_id
    assert len({create.context.trace_id, send.context.trace_id, process.context.trace_id}) == 1
    assert envelope.traceparent is not None and f"{send.context.span_id:016x}" in envelope.traceparent
    assert send.attributes is not None and send.attributes["messaging.system"] == "memory"
    assert send.attributes["messaging.message.id"] == envelope.id


async def test_without_an_exporter_there_is_no_create_or_send_span(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    exporter = exported()
    exporter.clear()
    request_id, envelope = await one_event_through(sessions)
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans} == {"request", "orders.order.paid process"}
    process = by_name(spans, "orders.order.paid process")
    assert process.parent is not None and process.parent.span_id == request_id  # still one trace
    assert envelope.traceparent is not None and f"{request_id:016x}" in envelope.traceparent
