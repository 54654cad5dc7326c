"""ChassisMiddleware: request ids, body limits, route-template metrics, access log, span, passthrough."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from agora.platform.http.middleware import FASTAPI_TELEMETRY, ChassisMiddleware
from agora.platform.observability.context import authorization_var, request_id_var
from agora.platform.observability.logging import configure_logging, get_logger
from agora.platform.observability.tracing import configure_tracing

LIMIT = 2048
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@cache
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("agora-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans() -> InMemorySpanExporter:
    exporter = span_exporter()
    exporter.clear()
    return exporter


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(level="INFO", json=True, service="tests", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def build_app(service: str, *, telemetry: dict[str, Any] | None = None) -> tuple[FastAPI, dict[str, int]]:
    calls = {"create": 0}
    products = APIRouter(prefix="/products")

    @products.get("/{product_id}")
    async def get_product(product_id: str) -> dict[str, Any]:
        return {
            "id": product_id,
            "request_id": request_id_var.get(),
            "authorization": authorization_var.get(),
        }

    @products.get("/{product_id}/log")
    async def log_inside(product_id: str) -> dict[str, str]:
        get_logger("agora.catalog").info("looked up", product_id=product_id)
        return {}

    @products.post("")
    async def create_product(request: Request) -> dict[str, int]:
        body = await request.body()
        calls["create"] += 1
        return {"size": len(body)}

    app = FastAPI(telemetry=FASTAPI_TELEMETRY if telemetry is None else telemetry)
    app.include_router(products, prefix="/api/catalog")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(ChassisMiddleware, service=service, max_body_bytes=LIMIT)
    return app, calls


@pytest.fixture
def service() -> str:
    return f"svc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def app_and_calls(service: str) -> tuple[FastAPI, dict[str, int]]:
    return build_app(service)


@pytest.fixture
async def client(app_and_calls: tuple[FastAPI, dict[str, int]]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_and_calls[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as http:
        yield http


async def test_valid_incoming_request_id_is_echoed_and_visible_to_the_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/catalog/products/p1", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc.DEF_123-x"
    assert response.json()["request_id"] == "abc.DEF_123-x"


async def test_missing_request_id_is_generated(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/catalog/products/p1")
    second = await client.get("/api/catalog/products/p1")
    generated = first.headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert first.json()["request_id"] == generated
    assert second.headers["x-request-id"] != generated


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "new\tline", ""])
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/api/catalog/products/p1", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_authorization_header_is_kept_for_the_request_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/catalog/products/p1", headers={"Authorization": "Bearer abc"})
    assert response.json()["authorization"] == "Bearer abc"
    assert authorization_var.get() is None
    assert request_id_var.get() is None


def assert_problem_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["status"] == 413
    assert body["title"] == "Payload Too Large"
    assert body["type"] == "about:blank"
    assert body["instance"] == "/api/catalog/products"
    assert str(LIMIT) in body["detail"]


async def test_body_over_the_limit_by_content_length_is_413_before_the_app_runs(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, dict[str, int]]
) -> None:
    response = await client.post("/api/catalog/products", content=b"x" * (LIMIT + 1))
    assert_problem_413(response)
    assert app_and_calls[1]["create"] == 0


async def test_body_at_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/catalog/products", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT}


async def test_streamed_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, dict[str, int]]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 1000

    response = await client.post("/api/catalog/products", content=chunks())
    assert "content-length" not in response.request.headers  # really sent chunked
    assert_problem_413(response)
    assert app_and_calls[1]["create"] == 0  # the endpoint never saw the body


async def test_streamed_body_limit_on_a_plain_asgi_app() -> None:
    """Without FastAPI's error handling in between: the app's own read fails, the client gets 413."""
    sent: list[dict[str, Any]] = []
    chunks = [b"a" * 1500, b"b" * 1500, b""]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    async def receive() -> dict[str, Any]:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    middleware = ChassisMiddleware(app, service="plain", max_body_bytes=LIMIT)
    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": [], "scheme": "http"}
    await middleware(scope, receive, send)
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["instance"] == "/upload"
    assert len(sent) == 2  # nothing from the app leaked after our answer


@pytest.mark.parametrize("http_impl", ["h11", "httptools"])
async def test_413_over_a_real_server_reaches_a_client_still_sending(http_impl: str) -> None:
    """The 413 goes out while the client is still writing; the rest of the body is drained so the
    client reads the 413 instead of a connection reset, and the connection stays usable."""
    app, calls = build_app("uvicorn-413")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # listening before uvicorn starts: connections wait in the backlog
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none", http=http_impl)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"z" * 1000

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as http:
            streamed = await http.post("/api/catalog/products", content=chunks())
            declared = await http.post("/api/catalog/products", content=b"z" * (LIMIT + 1))
            small = await http.post("/api/catalog/products", content=b"z" * 10)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
    assert_problem_413(streamed)
    assert_problem_413(declared)
    assert small.json() == {"size": 10}
    assert calls["create"] == 1


async def test_metrics_use_the_route_template_not_the_raw_path(client: httpx.AsyncClient, service: str) -> None:
    for product_id in ("p1", "p2", "p3"):
        await client.get(f"/api/catalog/products/{product_id}")
    await client.get("/nowhere/at/all")

    def count(route: str, status: str) -> float | None:
        labels = {"service": service, "method": "GET", "route": route, "status": status}
        return REGISTRY.get_sample_value("agora_http_requests_total", labels)

    assert count("/api/catalog/products/{product_id}", "200") == 3
    assert count("/api/catalog/products/p1", "200") is None
    assert count("<unmatched>", "404") == 1
    duration_count = REGISTRY.get_sample_value(
        "agora_http_request_duration_seconds_count",
        {"service": service, "method": "GET", "route": "/api/catalog/products/{product_id}"},
    )
    assert duration_count == 3
    assert REGISTRY.get_sample_value("agora_http_requests_in_progress", {"service": service}) == 0


async def test_server_span_is_named_by_route_and_continues_the_incoming_trace(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    await client.get("/api/catalog/products/p9", headers={"traceparent": TRACEPARENT})
    [span] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert span.name == "GET /api/catalog/products/{product_id}"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/catalog/products/{product_id}"
    assert span.attributes["http.response.status_code"] == 200


async def test_fastapi_native_telemetry_is_not_doubled(spans: InMemorySpanExporter, log_stream: io.StringIO) -> None:
    app, _ = build_app("native", telemetry={})  # FastAPI's own telemetry left on
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        await http.get("/api/catalog/products/p1", headers={"traceparent": TRACEPARENT})
    server_spans = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(server_spans) == 1
    lines = [orjson.loads(line) for line in log_stream.getvalue().splitlines()]
    [entry] = [line for line in lines if line["logger"] == "agora.access"]
    assert entry["trace_id"] == TRACE_ID


async def test_access_log_is_one_json_line_with_trace_and_request_ids(
    client: httpx.AsyncClient, log_stream: io.StringIO, service: str, spans: InMemorySpanExporter
) -> None:
    response = await client.get(
        "/api/catalog/products/p1", headers={"traceparent": TRACEPARENT, "X-Request-ID": "req-42"}
    )
    assert response.status_code == 200
    await client.get("/healthz")  # probes stay out of the info-level access log

    lines = [orjson.loads(line) for line in log_stream.getvalue().splitlines()]
    access = [line for line in lines if line.get("logger") == "agora.access"]
    assert len(access) == 1
    [entry] = access
    assert entry["event"] == "request"
    assert entry["level"] == "info"
    assert entry["service"] == service
    assert entry["method"] == "GET"
    assert entry["route"] == "/api/catalog/products/{product_id}"
    assert entry["path"] == "/api/catalog/products/p1"
    assert entry["status"] == 200
    assert entry["request_id"] == "req-42"
    assert entry["trace_id"] == TRACE_ID
    assert len(entry["span_id"]) == 16
    assert isinstance(entry["duration_ms"], float)
    assert entry["timestamp"].endswith("Z")


async def test_lines_logged_inside_a_request_carry_its_service_and_ids(
    client: httpx.AsyncClient, log_stream: io.StringIO, service: str, spans: InMemorySpanExporter
) -> None:
    await client.get("/api/catalog/products/p1/log", headers={"traceparent": TRACEPARENT, "X-Request-ID": "r-1"})
    lines = [orjson.loads(line) for line in log_stream.getvalue().splitlines()]
    [entry] = [line for line in lines if line["logger"] == "agora.catalog"]
    # configure_logging said service="tests"; in embedded mode the request's own service wins
    assert entry["service"] == service
    assert entry["request_id"] == "r-1"
    assert entry["trace_id"] == TRACE_ID
    assert entry["product_id"] == "p1"


async def test_unhandled_error_is_counted_as_500_and_reraised(service: str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    middleware = ChassisMiddleware(app, service=service, max_body_bytes=LIMIT)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "scheme": "http"}

    async def never(message: Any) -> None:
        raise AssertionError("nothing should be sent")

    with pytest.raises(RuntimeError):
        await middleware(scope, never, never)
    labels = {"service": service, "method": "GET", "route": "<unmatched>", "status": "500"}
    assert REGISTRY.get_sample_value("agora_http_requests_total", labels) == 1


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_pass_through_untouched(scope_type: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": f"{scope_type}.connect"}

    async def send(message: Any) -> None:
        return None

    scope = {"type": scope_type, "path": "/ws", "headers": [(b"x-request-id", b"bad id")]}
    snapshot = dict(scope)
    await ChassisMiddleware(app, service="ws", max_body_bytes=LIMIT)(scope, receive, send)
    assert seen == [(scope, receive, send)]
    assert seen[0][1] is receive and seen[0][2] is send
    assert scope == snapshot
