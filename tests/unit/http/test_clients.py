"""ServiceClient against an in-process app (ASGITransport) and a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from agora.platform.http.clients import ServiceClient, ServiceNotConfiguredError, create_service_client
from agora.platform.http.middleware import FASTAPI_TELEMETRY, ChassisMiddleware
from agora.platform.http.resilience import BreakerState, CircuitBreaker, CircuitOpenError, RetryPolicy
from agora.platform.observability.context import authorization_var, request_id_var
from agora.platform.observability.tracing import configure_tracing
from agora.platform.settings import PlatformSettings


@cache
def span_exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("agora-tests").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def build_target() -> tuple[FastAPI, dict[str, int]]:
    hits: dict[str, int] = {"flaky": 0, "fail": 0, "ok": 0}
    app = FastAPI(telemetry=FASTAPI_TELEMETRY)

    @app.get("/api/catalog/echo")
    async def echo(request: Request) -> dict[str, Any]:
        span_context = trace.get_current_span().get_span_context()
        return {
            "traceparent": request.headers.get("traceparent"),
            "x-request-id": request.headers.get("x-request-id"),
            "authorization": request.headers.get("authorization"),
            "server_request_id": request_id_var.get(),
            "server_trace_id": format(span_context.trace_id, "032x"),
        }

    @app.api_route("/api/catalog/flaky", methods=["GET", "POST", "PUT"])
    async def flaky(response: Response) -> dict[str, int]:
        hits["flaky"] += 1
        if hits["flaky"] <= 2:
            response.status_code = 503
        return {"hits": hits["flaky"]}

    @app.get("/api/catalog/fail")
    async def fail(response: Response) -> dict[str, str]:
        hits["fail"] += 1
        response.status_code = 500
        return {}

    @app.get("/api/catalog/ok")
    async def ok() -> dict[str, str]:
        hits["ok"] += 1
        return {}

    app.add_middleware(ChassisMiddleware, service="catalog-target", max_body_bytes=4096, access_log=False)
    return app, hits


ClientFactory = Callable[..., ServiceClient]


@pytest.fixture(params=["asgi", "uvicorn"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ClientFactory, dict[str, int]]]:
    app, hits = build_target()
    clients: list[ServiceClient] = []
    if request.param == "asgi":

        def factory(**kwargs: Any) -> ServiceClient:
            client = create_service_client("catalog", settings=PlatformSettings(), app=app, **kwargs)
            clients.append(client)
            return client

        yield factory, hits
    else:
        # Binding the socket ourselves means the port is known and listening before uvicorn
        # starts: early connections wait in the backlog, so no "is it up yet" polling is needed.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none", http="h11", access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        settings = PlatformSettings(service_urls={"catalog": f"http://127.0.0.1:{port}"})

        def factory(**kwargs: Any) -> ServiceClient:
            client = create_service_client("catalog", settings=settings, **kwargs)
            clients.append(client)
            return client

        try:
            yield factory, hits
        finally:
            for client in clients:
                await client.aclose()
            clients.clear()
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
            sock.close()
    for client in clients:
        await client.aclose()


async def test_trace_request_id_and_callers_authorization_are_propagated(
    target: tuple[ClientFactory, dict[str, int]],
) -> None:
    factory, _ = target
    exporter = span_exporter()
    exporter.clear()
    tracer = trace.get_tracer("test")
    request_token = request_id_var.set("caller-req-1")
    auth_token = authorization_var.set("Bearer user-token")
    try:
        async with factory() as client:
            with tracer.start_as_current_span("caller") as caller:
                response = await client.get("/api/catalog/echo")
    finally:
        request_id_var.reset(request_token)
        authorization_var.reset(auth_token)
    body = response.json()
    caller_trace = format(caller.get_span_context().trace_id, "032x")
    assert body["traceparent"].split("-")[1] == caller_trace
    assert body["server_trace_id"] == caller_trace
    assert body["x-request-id"] == "caller-req-1"
    assert body["server_request_id"] == "caller-req-1"
    assert body["authorization"] == "Bearer user-token"

    # only this trace's: a session-scoped app of another test (the web's shop) may call its
    # services in the background meanwhile (the revocation sync), on the same exporter
    client_spans = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.CLIENT
        and s.context is not None
        and s.context.trace_id == caller.get_span_context().trace_id
    ]
    assert [s.name for s in client_spans] == ["GET catalog"]
    assert client_spans[0].parent is not None
    assert client_spans[0].parent.span_id == caller.get_span_context().span_id
    # the traceparent sent is the client span's, so the server span hangs under it
    assert body["traceparent"].split("-")[2] == format(client_spans[0].context.span_id, "016x")


async def test_the_service_token_is_sent_only_when_asked_for(
    target: tuple[ClientFactory, dict[str, int]],
) -> None:
    factory, _ = target

    async def token() -> str:
        return "service-token"

    async with factory(token_provider=token) as client:
        plain = (await client.get("/api/catalog/echo")).json()
        as_service = (await client.get("/api/catalog/echo", as_service=True)).json()
        explicit = (await client.get("/api/catalog/echo", headers={"Authorization": "Bearer mine"})).json()
        over_explicit = (
            await client.get("/api/catalog/echo", headers={"Authorization": "Bearer mine"}, as_service=True)
        ).json()
    assert plain["authorization"] is None  # no caller, no token: anonymous, never a silent upgrade
    assert as_service["authorization"] == "Bearer service-token"
    assert explicit["authorization"] == "Bearer mine"
    assert over_explicit["authorization"] == "Bearer service-token"
    assert plain["x-request-id"] is None  # outside a request nothing is invented


async def test_get_is_retried_on_503_then_succeeds(target: tuple[ClientFactory, dict[str, int]]) -> None:
    factory, hits = target
    sleep = RecordingSleep()
    async with factory(retry=RetryPolicy(attempts=3, sleep=sleep)) as client:
        response = await client.get("/api/catalog/flaky")
    assert response.status_code == 200
    assert response.json() == {"hits": 3}
    assert hits["flaky"] == 3
    assert len(sleep.delays) == 2
    labels = {"target": "catalog", "method": "GET", "status": "503"}
    assert (REGISTRY.get_sample_value("agora_http_client_requests_total", labels) or 0) >= 2


async def test_post_is_never_retried(target: tuple[ClientFactory, dict[str, int]]) -> None:
    factory, hits = target
    sleep = RecordingSleep()
    async with factory(retry=RetryPolicy(attempts=3, sleep=sleep)) as client:
        response = await client.post("/api/catalog/flaky", json={"a": 1})
    assert response.status_code == 503
    assert hits["flaky"] == 1
    assert sleep.delays == []


async def test_breaker_opens_fails_fast_and_recovers_through_half_open(
    target: tuple[ClientFactory, dict[str, int]],
) -> None:
    factory, hits = target
    clock = FakeClock()
    breaker = CircuitBreaker("catalog", failure_threshold=3, reset_timeout=30, clock=clock)
    async with factory(breaker=breaker, retry=RetryPolicy(attempts=1)) as client:
        for _ in range(3):
            assert (await client.get("/api/catalog/fail")).status_code == 500
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            await client.get("/api/catalog/ok")
        assert hits == {"flaky": 0, "fail": 3, "ok": 0}  # failing fast: nothing reached the target

        clock.now += 30
        assert (await client.get("/api/catalog/fail")).status_code == 500  # the trial fails
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            await client.get("/api/catalog/ok")

        clock.now += 30
        assert (await client.get("/api/catalog/ok")).status_code == 200  # the trial succeeds
        assert breaker.state is BreakerState.CLOSED
        assert (await client.get("/api/catalog/ok")).status_code == 200
    assert hits == {"flaky": 0, "fail": 4, "ok": 2}


async def test_connection_refused_is_retried_then_counts_against_the_breaker() -> None:
    # A port nobody listens on: bind, read the number, close.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = PlatformSettings(service_urls={"catalog": f"http://127.0.0.1:{port}"})
    sleep = RecordingSleep()
    breaker = CircuitBreaker("catalog", failure_threshold=3, reset_timeout=30, clock=FakeClock())
    client = create_service_client(
        "catalog", settings=settings, breaker=breaker, retry=RetryPolicy(attempts=3, sleep=sleep)
    )
    async with client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/api/catalog/ok")
        assert len(sleep.delays) == 2
        assert breaker.state is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            await client.get("/api/catalog/ok")


def test_missing_service_url_is_a_clear_error() -> None:
    with pytest.raises(ServiceNotConfiguredError, match="AGORA_SERVICE_URLS__PAYMENTS"):
        create_service_client("payments", settings=PlatformSettings())


async def test_timeout_comes_from_settings() -> None:
    client = create_service_client("catalog", settings=PlatformSettings(http_timeout=1.5), app=build_target()[0])
    async with client:
        assert client.http.timeout == httpx.Timeout(1.5)
        assert str(client.http.base_url) == "http://catalog.internal"


async def test_a_cookie_one_caller_got_never_rides_along_for_the_next() -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agora.platform.http.clients import create_service_client
    from agora.platform.settings import PlatformSettings

    async def login(_: Request) -> JSONResponse:
        response = JSONResponse({"ok": True})
        response.set_cookie("agora_access", "alice-session", path="/")
        return response

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"cookie": request.cookies.get("agora_access")})

    app = Starlette(routes=[Route("/login", login, methods=["POST"]), Route("/whoami", whoami)])
    client = create_service_client("identity", settings=PlatformSettings(), app=app)
    try:
        assert (await client.post("/login")).status_code == 200
        assert (await client.get("/whoami")).json() == {"cookie": None}
    finally:
        await client.aclose()
