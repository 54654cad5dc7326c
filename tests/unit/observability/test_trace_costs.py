"""What tracing costs when it is off, and how much of it is kept when it is on.

Statement spans are the expensive part (one per SQL statement, ~50 per checkout): a service's
engine is instrumented only when traces are exported and some are sampled. Sampling is
parent-based: the root's ratio decides, every process downstream follows the ``traceparent``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from unittest.mock import ANY

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from pydantic import ValidationError
from sqlalchemy import text

from agora.platform.http.app import service_runtime
from agora.platform.observability.tracing import configure_tracing, current_trace_ids, new_provider, sampler
from agora.platform.settings import PlatformSettings
from agora.platform.testing.apps import platform_for_tests
from agora.services import currency


@cache
def exported() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("agora-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def statement_spans(platform: PlatformSettings) -> int:
    """SQL spans recorded for one statement run inside a sampled span, by a service's engine."""
    exporter = exported()
    exporter.clear()
    settings = currency.spec.settings_cls(database_url=f"sqlite+aiosqlite:///{platform.data_dir / 'c.db'}")
    async with service_runtime(currency.spec, platform, settings, start_background=False) as context:
        with trace.get_tracer("t").start_as_current_span("request") as request:
            assert request.is_recording()
            async with context.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    return sum(1 for span in exporter.get_finished_spans() if span.kind is SpanKind.CLIENT)


@pytest.mark.parametrize(
    ("endpoint", "ratio", "expected"),
    [
        (None, 1.0, 0),  # traces off: no listener on the engine at all
        ("http://127.0.0.1:9/v1/traces", 0.0, 0),  # exported, but none sampled
        ("http://127.0.0.1:9/v1/traces", 1.0, 1),  # on: the statement is a child span
    ],
)
async def test_statements_are_traced_only_when_traces_are_exported(
    tmp_path: Path, endpoint: str | None, ratio: float, expected: int
) -> None:
    platform = platform_for_tests(tmp_path, otlp_endpoint=endpoint, trace_sample_ratio=ratio)
    assert await statement_spans(platform) == expected


def _remote_parent(sampled: bool) -> Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(parent))


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_sampling_follows_the_callers_decision_whatever_the_ratio(ratio: float) -> None:
    decide = sampler(ratio).should_sample
    kept = decide(_remote_parent(sampled=True), 0x1234, "child").decision
    dropped = decide(_remote_parent(sampled=False), 0x1234, "child").decision
    assert kept is Decision.RECORD_AND_SAMPLE and dropped is Decision.DROP


def test_the_ratio_decides_for_traces_that_start_here() -> None:
    trace_ids = range(1, 2**64, 2**64 // 1000)  # spread over the id space the ratio compares against
    kept = sum(sampler(0.25).should_sample(None, trace_id, "root").decision.is_sampled() for trace_id in trace_ids)
    assert 200 <= kept <= 300
    assert not any(sampler(0.0).should_sample(None, t, "root").decision.is_sampled() for t in trace_ids)


def test_the_ratio_is_a_setting_between_0_and_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_TRACE_SAMPLE_RATIO", "0.1")
    assert PlatformSettings().trace_sample_ratio == 0.1
    monkeypatch.setenv("AGORA_TRACE_SAMPLE_RATIO", "1.5")
    with pytest.raises(ValidationError, match="trace_sample_ratio"):
        PlatformSettings()


def test_spans_record_nothing_until_someone_reads_them_but_keep_their_ids() -> None:
    provider = new_provider("agora-tests")
    tracer = provider.get_tracer("t")
    parent = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True)
    with tracer.start_as_current_span("request") as unread:
        assert not unread.is_recording()
        assert isinstance(unread, NonRecordingSpan)
        assert unread.get_span_context().is_valid  # its ids still reach the log lines
        assert current_trace_ids() == (format(unread.get_span_context().trace_id, "032x"), ANY)
    child = tracer.start_span("call", context=trace.set_span_in_context(NonRecordingSpan(parent)))
    assert not child.is_recording()
    assert child.get_span_context().trace_id == parent.trace_id  # the caller's trace continues

    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.start_as_current_span("request") as read:
        assert read.is_recording()
    assert [span.name for span in exporter.get_finished_spans()] == ["request"]
    provider.shutdown()
