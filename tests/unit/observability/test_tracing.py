"""Tracer provider setup, header propagation, SQLAlchemy spans."""

from __future__ import annotations

from functools import cache

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agora.platform.observability.tracing import (
    configure_tracing,
    current_trace_ids,
    extract_context,
    inject_trace_headers,
    instrument_sqlalchemy,
)


@cache
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("agora-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_provider_is_installed_once_and_is_the_global_one() -> None:
    first = configure_tracing("agora-tests")
    second = configure_tracing("another-name")
    assert first is second
    assert trace.get_tracer_provider() is first


def test_spans_have_valid_ids_without_an_exporter() -> None:
    configure_tracing("agora-tests")
    assert current_trace_ids() is None
    with trace.get_tracer("t").start_as_current_span("s") as span:
        ids = current_trace_ids()
    assert ids == (format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x"))


def test_inject_then_extract_round_trips_the_span() -> None:
    configure_tracing("agora-tests")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        headers = inject_trace_headers({})
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert headers["traceparent"].startswith(f"00-{trace_id}-")
    remote = trace.get_current_span(extract_context(headers)).get_span_context()
    assert remote.trace_id == span.get_span_context().trace_id
    assert remote.is_remote


async def test_sqlalchemy_statements_become_client_spans_under_the_current_span() -> None:
    exporter = span_exporter()
    exporter.clear()
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    instrument_sqlalchemy(engine)
    instrument_sqlalchemy(engine)  # a second call must not double the spans
    try:
        with trace.get_tracer("t").start_as_current_span("request") as parent:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    db_spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(db_spans) == 1
    assert db_spans[0].parent is not None
    assert db_spans[0].parent.span_id == parent.get_span_context().span_id
    assert "SELECT" in db_spans[0].name
