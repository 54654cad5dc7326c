"""The chassis middleware: request id, server span, body-size limit, RED metrics, access log.

One plain ASGI middleware rather than five, and no ``BaseHTTPMiddleware``: each layer of the
latter costs a task and a memory stream per request, and the benchmark compares a full chassis
against a bare endpoint. Everything per-request here is a few dict lookups, one span and, when
enabled, one log line; label children and the tracer are resolved once and cached.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from contextvars import Token
from typing import Any

import orjson
import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora.platform.observability.context import (
    authorization_var,
    new_request_id,
    request_id_var,
    service_var,
)
from agora.platform.observability.logging import event_enabled, write_event
from agora.platform.observability.metrics import (
    KNOWN_METHODS,
    UNMATCHED_ROUTE,
    http_request_duration_seconds,
    http_requests_in_progress,
    http_requests_total,
)

_log = structlog.get_logger("agora.platform.http.problems")

#: What we accept as an incoming request id; anything else (too long, spaces, control characters
#: that could forge log lines) is replaced by a fresh id.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Probes and scrapes would drown the access log; they are logged at debug level instead.
_QUIET_SUFFIXES = ("/healthz", "/readyz", "/metrics", "/internal/revocations")


#: Pass as ``FastAPI(telemetry=FASTAPI_TELEMETRY)``: this middleware already records the server
#: span and RED metrics, and FastAPI's native telemetry would add a second span tree and a second
#: set of (OpenTelemetry) metrics to every request.
FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


class _PayloadTooLargeError(Exception):
    """Raised from ``receive`` once a streamed body passes the limit; the client has its 413."""


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/catalog/products/{product_id}``), never the raw path.

    FastAPI >= 0.130 matches included routers lazily: ``scope["route"]`` is then the route as
    declared inside its router (without the include prefix) and the full template lives on the
    effective route context it records under ``scope["fastapi"]``. Older FastAPI copies routes at
    include time, so ``scope["route"].path`` is already complete there.
    """
    fastapi_scope = scope.get("fastapi")
    if fastapi_scope:
        effective = fastapi_scope.get("effective_route_context")
        path = getattr(effective, "path", None)
        if path:
            return str(path)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE


async def _drain(receive: Receive, limit: int) -> None:
    drained = 0
    while drained <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body"):
            return


def redis_unreachable(exc: BaseException) -> bool:
    """Redis (carts, caches, rate limits) did not answer: the request is answered 503, not 500.

    Decided here, when it happens, rather than by exception handlers on the app: redis-py (~6 MiB
    resident) is imported when a service first talks to Redis, after its app was built, and a
    process that never imported it has no Redis client to fail."""
    redis_exceptions = sys.modules.get("redis.exceptions")
    return redis_exceptions is not None and isinstance(
        exc, redis_exceptions.ConnectionError | redis_exceptions.TimeoutError
    )


def problem_body(*, status: int, title: str, detail: str, instance: str) -> bytes:
    """An RFC 9457 problem document."""
    return orjson.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}
    )


def _read_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, int | None, str | None, dict[str, str] | None]:
    """The request id (the caller's when well-formed, else a fresh one), the declared body length,
    the Authorization header and the trace context headers (None when there are none)."""
    request_id: str | None = None
    content_length: int | None = None
    authorization: str | None = None
    carrier: dict[str, str] | None = None
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                request_id = candidate
        elif name == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                content_length = None  # the server rejects a malformed length before us
        elif name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"traceparent" or name == b"tracestate":
            if carrier is None:
                carrier = {}
            carrier[name.decode("latin-1")] = value.decode("latin-1")
    return request_id or new_request_id(), content_length, authorization, carrier


class _Exchange:
    """One request's traffic between server and app: counts the body against the limit (a 413
    past it), tags the response with the request id, and remembers the status sent.

    Its two bound methods replace the closures ``__call__`` used to create per request: one
    object instead of three function objects and their cells (measured no slower, see the commit)."""

    __slots__ = (
        "answered",
        "drain_limit",
        "max_body",
        "path",
        "receive",
        "received",
        "request_id_header",
        "send",
        "started",
        "status",
    )

    # positional parameters: keyword arguments cost a little on every request
    def __init__(
        self,
        receive: Receive,
        send: Send,
        path: str,
        max_body: int,
        drain_limit: int,
        request_id_header: tuple[bytes, bytes],
    ) -> None:
        self.receive = receive
        self.send = send
        self.path = path
        self.max_body = max_body
        self.drain_limit = drain_limit
        self.request_id_header = request_id_header
        self.status = 0
        self.started = False
        self.answered = False  # we sent a 413 ourselves; whatever the app sends after is dropped
        self.received = 0

    async def send_413(self, *, drain: bool) -> None:
        self.answered = self.started = True
        self.status = 413
        body = problem_body(
            status=413,
            title="Payload Too Large",
            detail=f"The request body is larger than the limit of {self.max_body} bytes.",
            instance=self.path,
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode("ascii")),
            self.request_id_header,
        ]
        if not drain:
            # The rest of the body stays unread, so the connection cannot be reused.
            headers.append((b"connection", b"close"))
        await self.send({"type": "http.response.start", "status": 413, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        if drain:
            await _drain(self.receive, self.drain_limit)

    async def send_503(self) -> None:
        """A store did not answer (see :func:`redis_unreachable`): the client may retry."""
        self.started = True
        self.status = 503
        body = problem_body(
            status=503,
            title="Service Unavailable",
            detail="A store this request needs did not answer; nothing was changed. Try again shortly.",
            instance=self.path,
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"retry-after", b"1"),
            self.request_id_header,
        ]
        await self.send({"type": "http.response.start", "status": 503, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def counting_receive(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_body:
                if not self.started:
                    await self.send_413(drain=bool(message.get("more_body")))
                raise _PayloadTooLargeError
        return message

    async def tagging_send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), self.request_id_header]}
        await self.send(message)


class ChassisMiddleware:
    """Wraps one service app; in embedded mode each service app gets its own instance."""

    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int, access_log: bool = True) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        # A ProxyTracer when tracing is configured after the app is built; it binds to the real
        # provider on first use, so the order of app factory and configure_tracing does not matter.
        self._tracer = trace.get_tracer("agora.http.server")
        self._in_progress = http_requests_in_progress.labels(service=service)
        # Past the limit, up to this many bytes are read and thrown away after the 413 is sent: a
        # client still writing its body would otherwise see a connection reset, not the 413.
        # Beyond it the connection is closed instead, so a huge upload cannot hold a worker.
        self._drain_limit = max(4 * max_body_bytes, 1_048_576)
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id, content_length, authorization, carrier = _read_headers(scope["headers"])
        method: str = scope["method"]
        path: str = scope["path"]
        # context_token is None when the span is not ours (an outer layer opened it)
        span, context_token = self._server_span(method, carrier)
        request_id_token = request_id_var.set(request_id)
        authorization_token = authorization_var.set(authorization)
        service_token = service_var.set(self.service)
        exchange = _Exchange(
            receive,
            send,
            path,
            self.max_body_bytes,
            self._drain_limit,
            (b"x-request-id", request_id.encode("ascii")),
        )

        self._in_progress.inc()
        start = time.perf_counter()
        try:
            if content_length is not None and content_length > exchange.max_body:
                await exchange.send_413(drain=content_length <= self._drain_limit)
            else:
                await self.app(scope, exchange.counting_receive, exchange.tagging_send)
        except Exception as exc:
            if not exchange.answered and not exchange.started and redis_unreachable(exc):
                _log.warning("database_unavailable", path=path, error=type(exc).__name__)
                await exchange.send_503()
                return
            if not exchange.answered:
                if not exchange.started:
                    exchange.status = 500
                if context_token is not None:
                    span.record_exception(exc)
                raise
            # Otherwise the app only failed because we cut its body short; the client has its 413.
        finally:
            duration = time.perf_counter() - start
            self._in_progress.dec()
            status = exchange.status or 499  # 0: cancelled (client went away) before any response
            route = route_template(scope)
            self._observe(method, route, status, duration)
            if context_token is not None and span.is_recording():  # unsampled: nothing to describe
                _describe_span(span, method, route, path, scope.get("scheme", "http"), status)
            if self.access_log:
                self._log_access(method, route, path, status, duration, request_id)
            service_var.reset(service_token)
            authorization_var.reset(authorization_token)
            request_id_var.reset(request_id_token)
            if context_token is not None:  # the span is ours
                span.end()
                otel_context.detach(context_token)

    def _server_span(self, method: str, carrier: dict[str, str] | None) -> tuple[Span, Token[Context] | None]:
        """The request's server span, and the context token when this middleware opened it (None
        when an outer layer did: that layer describes and ends it)."""
        outer = trace.get_current_span()
        if outer.is_recording() and getattr(outer, "kind", None) is SpanKind.SERVER:
            # An outer layer (FastAPI >= 0.160's native telemetry, or opentelemetry-instrumentation-
            # asgi) already opened the server span for this request: use it rather than nest a
            # second one. Passing FASTAPI_TELEMETRY to FastAPI() turns that layer off, which is
            # cheaper (it also records three internal spans and OTel metrics per request).
            return outer, None
        # attributes are set once, at the end: each set takes the span's lock
        span = self._tracer.start_span(
            method,
            context=propagate.extract(carrier) if carrier is not None else None,
            kind=SpanKind.SERVER,
        )
        return span, otel_context.attach(trace.set_span_in_context(span))

    def _observe(self, method: str, route: str, status: int, duration: float) -> None:
        if method not in KNOWN_METHODS:
            method = "OTHER"
        counter_key = (method, route, status)
        counter = self._counters.get(counter_key)
        if counter is None:
            counter = http_requests_total.labels(self.service, method, route, str(status))
            self._counters[counter_key] = counter
        counter.inc()
        histogram_key = (method, route)
        histogram = self._histograms.get(histogram_key)
        if histogram is None:
            histogram = http_request_duration_seconds.labels(self.service, method, route)
            self._histograms[histogram_key] = histogram
        histogram.observe(duration)

    def _log_access(self, method: str, route: str, path: str, status: int, duration: float, request_id: str) -> None:
        # probes and scrapes would drown the access log: debug level for them
        level = logging.DEBUG if path.endswith(_QUIET_SUFFIXES) else logging.INFO
        if not event_enabled(level):  # the line is built only when it will be written
            return
        write_event(
            {
                "service": self.service,
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "request_id": request_id,
                "event": "request",
                "logger": "agora.access",
            },
            level=level,
        )


def _describe_span(span: Span, method: str, route: str, path: str, scheme: str, status: int) -> None:
    """Name the span after its route and set its attributes, in one call (each takes the span's lock)."""
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.path": path,
        "url.scheme": scheme,
        "http.response.status_code": status,
    }
    if route != UNMATCHED_ROUTE:
        span.update_name(f"{method} {route}")
        attributes["http.route"] = route
    span.set_attributes(attributes)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


__all__ = ["FASTAPI_TELEMETRY", "ChassisMiddleware", "problem_body", "redis_unreachable", "route_template"]
