"""An OTLP/HTTP trace receiver the observability end-to-end tests run themselves.

It is a real OTLP endpoint for the exporter (``POST /v1/traces`` with a protobuf
``ExportTraceServiceRequest``, answered 200 with an empty ``ExportTraceServiceResponse``): it
decodes every request with ``opentelemetry-proto`` into :class:`ReceivedSpan` values a test can
walk parent to child.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

T = TypeVar("T")

SERVER = ProtoSpan.SPAN_KIND_SERVER
CLIENT = ProtoSpan.SPAN_KIND_CLIENT
PRODUCER = ProtoSpan.SPAN_KIND_PRODUCER
CONSUMER = ProtoSpan.SPAN_KIND_CONSUMER


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    """The exporting process's ``service.name`` resource attribute."""
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, Any] = field(hash=False)
    error: bool = False
    events: tuple[str, ...] = ()
    """The names of the span's events (``exception`` for a recorded exception)."""


class OtlpReceiver:
    """Collects the spans of every ``ExportTraceServiceRequest`` posted to it."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._changed = threading.Condition()

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            error=span.status.code == span.status.STATUS_CODE_ERROR,
                            events=tuple(event.name for event in span.events),
                        )
                    )
        with self._changed:
            self.spans.extend(received)
            self.requests += 1
            self._changed.notify_all()

    def wait_for(self, found: Callable[[list[ReceivedSpan]], T | None], *, within: float, what: str) -> T:
        """Blocks until ``found(spans)`` returns something (re-checked on every export)."""
        result: list[T] = []

        def check() -> bool:
            answer = found(list(self.spans))
            if answer is None:
                return False
            result.append(answer)
            return True

        with self._changed:
            if not self._changed.wait_for(check, timeout=within):
                raise AssertionError(f"not within {within:g}s: {what} ({len(self.spans)} spans received)")
        return result[0]


@contextmanager
def otlp_receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    """A receiver on a free loopback port; yields it and its traces endpoint URL."""
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces" or self.headers.get("content-type") != "application/x-protobuf":
                self.send_error(404)
                return
            receiver.receive(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chain_to_root(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """``span``, its parent, its parent's parent... up to the root (fails on a missing parent)."""
    by_id = {each.span_id: each for each in spans if each.trace_id == span.trace_id}
    chain = [span]
    while chain[-1].parent_id is not None:
        parent = by_id.get(chain[-1].parent_id)
        assert parent is not None, f"{chain[-1].name} ({chain[-1].service}): its parent was never exported"
        chain.append(parent)
    return chain


__all__ = [
    "CLIENT",
    "CONSUMER",
    "PRODUCER",
    "SERVER",
    "OtlpReceiver",
    "ReceivedSpan",
    "chain_to_root",
    "otlp_receiver",
]
