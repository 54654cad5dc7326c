"""OpenTelemetry tracing: one global provider per process, OTLP/HTTP export when configured.

Spans cost nothing unless something reads them: while the provider has no span processor (no
OTLP endpoint, no test exporter) every span is a ``NonRecordingSpan`` (the sampler's DROP): it
still gets a valid trace id and span id, so ``trace_id``/``span_id`` reach the logs and the
``traceparent`` propagates between services, but no attributes, events or timing are kept. What
only a collector would read stays off then too: a span per SQL statement
(:func:`instrument_sqlalchemy` is called only when :func:`exporting`) and the outbox's
create/send spans (:mod:`agora.platform.messaging.tracing`). Code that builds attributes checks
``span.is_recording()`` first.

Sampling is parent-based with a trace-id ratio at the root (``AGORA_TRACE_SAMPLE_RATIO``, 1.0 by
default): the front (or whichever process starts a trace) decides once, every process downstream
follows the ``traceparent``'s sampled flag, so a trace is kept whole or not at all.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from agora.platform.imports import hidden

# without psutil (~0.8 MiB resident): only OpenTelemetry's process resource detector uses it,
# and Agora's resources are the service's name and namespace (see configure_tracing)
with hidden("psutil"):
    from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

_state: dict[str, Any] = {"provider": None}
_instrumented_engines: weakref.WeakSet[Any] = weakref.WeakSet()


class _ReadSpansOnly(Sampler):
    """``inner``'s decision once the provider has a span processor; DROP (a non-recording span
    with valid ids) before: a recorded span nobody reads costs ~8 % of a cached read's CPU."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner
        self.read = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if not self.read:  # keep the caller's tracestate, as the SDK's own samplers do
            parent = trace.get_current_span(parent_context).get_span_context()
            return SamplingResult(Decision.DROP, trace_state=parent.trace_state if parent.is_valid else None)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"ReadSpansOnly{{{self.inner.get_description()}}}"


class _Provider(TracerProvider):
    """A provider whose sampler starts recording when the first span processor is added."""

    def __init__(self, *, resource: Resource, sampler: _ReadSpansOnly) -> None:
        super().__init__(sampler=sampler, resource=resource)
        self._read_spans_only = sampler

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._read_spans_only.read = True


def configure_tracing(
    service_name: str,
    *,
    otlp_endpoint: str | None = None,
    namespace: str = "agora",
    sample_ratio: float = 1.0,
) -> TracerProvider:
    """Install the process's tracer provider once and return it.

    OpenTelemetry refuses to replace a global provider, so later calls return the first one (in
    embedded mode every service shares the process, hence the provider). An exporter is attached
    the first time an endpoint is given. ``sample_ratio`` is the share of new traces kept; a
    request that arrives with a ``traceparent`` follows its caller's decision.
    """
    provider: TracerProvider | None = _state["provider"]
    if provider is None:
        provider = new_provider(service_name, namespace=namespace, sample_ratio=sample_ratio)
        trace.set_tracer_provider(provider)
        _state["provider"] = provider
        _state["exporting"] = False
    if otlp_endpoint and not _state["exporting"]:
        # Imported here: the exporter pulls in requests/protobuf, which a process without a
        # collector never needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        _state["exporting"] = True
    return provider


def new_provider(service_name: str, *, namespace: str = "agora", sample_ratio: float = 1.0) -> TracerProvider:
    """A tracer provider whose spans are non-recording (valid ids, nothing kept) until its first
    span processor is added, then sampled by :func:`sampler`."""
    resource = Resource.create({"service.name": service_name, "service.namespace": namespace})
    return _Provider(resource=resource, sampler=_ReadSpansOnly(sampler(sample_ratio)))


def sampler(ratio: float) -> Sampler:
    """Keeps ``ratio`` of the traces that start here, and follows the caller's decision otherwise."""
    return ParentBased(TraceIdRatioBased(ratio))


def exporting() -> bool:
    """Whether spans leave this process (an OTLP endpoint is configured): what only a collector
    reads (statement spans, the outbox's messaging spans) is skipped otherwise."""
    return bool(_state.get("exporting"))


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Export the spans still batched (a service's lifespan calls this as it stops: uvicorn
    re-raises SIGTERM after its shutdown, so nothing after the server loop is sure to run)."""
    provider: TracerProvider | None = _state["provider"]
    if provider is not None and _state["exporting"]:
        provider.force_flush(timeout_millis)


def shutdown_tracing() -> None:
    """Flush and stop exporters; call from the process's lifespan shutdown."""
    provider: TracerProvider | None = _state["provider"]
    if provider is not None:
        provider.force_flush()
        provider.shutdown()
        _state["exporting"] = False


def instrument_sqlalchemy(engine: Any) -> None:
    """Emit a client span per statement on an ``AsyncEngine`` (or a plain ``Engine``).

    ``SQLAlchemyInstrumentor().instrument()`` only works once per process, but embedded mode has
    one engine per service, so each engine gets its own :class:`EngineTracer` instead.
    """
    from opentelemetry.instrumentation.sqlalchemy import __version__  # type: ignore[attr-defined]
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    sync_engine = getattr(engine, "sync_engine", engine)
    if sync_engine in _instrumented_engines:
        return
    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    connections = get_meter("opentelemetry.instrumentation.sqlalchemy", __version__).create_up_down_counter(
        name="db.client.connections.usage", unit="connections"
    )
    EngineTracer(tracer, sync_engine, connections)  # type: ignore[no-untyped-call]  # untyped upstream
    _instrumented_engines.add(sync_engine)


def inject_trace_headers(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write ``traceparent`` (and ``tracestate``/``baggage``) for the current span into ``headers``."""
    propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str]) -> Context:
    """The remote parent context carried by ``headers`` (lower-case keys, as in HTTP/2 and ASGI)."""
    return propagate.extract(headers)


def current_trace_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current span as hex, or ``None`` outside a valid span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


__all__ = [
    "configure_tracing",
    "current_trace_ids",
    "exporting",
    "extract_context",
    "flush_tracing",
    "inject_trace_headers",
    "instrument_sqlalchemy",
    "new_provider",
    "sampler",
    "shutdown_tracing",
]
