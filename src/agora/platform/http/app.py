"""The app factory: one FastAPI app per service, with the whole chassis wired in its lifespan.

``create_service_app(spec, platform)`` is the composition root for one service process. The
lifespan builds (and on shutdown tears down, in reverse) the engine, the transport, the outbox
relay, the token verifier, the service's own runtime (``spec.start``) and the consumers, and
hands requests the service context through the lifespan state (``context``; endpoints read it
through :mod:`agora.platform.http.deps`). Nothing here runs at import.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agora.platform.auth import TokenVerifier, jwks_from_file
from agora.platform.auth.revocations import (
    REVOCATIONS_PATH,
    RevocationFetcher,
    Revocations,
    leave_shared_sync,
    shared_sync,
    subscribe_revocations,
)
from agora.platform.auth.service_tokens import ServiceTokenProvider
from agora.platform.auth.verifier import JwksFetcher
from agora.platform.cache import ResponseCache
from agora.platform.db import create_engine, create_sessionmaker, dialect_of
from agora.platform.db.pools import pool_size_for
from agora.platform.db.session import committed
from agora.platform.faults import FaultFlags, faults_allowed
from agora.platform.http.admin import build_admin_router
from agora.platform.http.clients import ServiceClient, create_service_client
from agora.platform.http.docs import add_docs_routes
from agora.platform.http.documents import readiness_response
from agora.platform.http.middleware import FASTAPI_TELEMETRY, ChassisMiddleware
from agora.platform.http.openapi import complete_document
from agora.platform.http.pagination import CursorCodec, Cursors
from agora.platform.http.problems import install_problem_handlers
from agora.platform.idempotency.store import IdempotencyStore
from agora.platform.messaging import Handler, Outbox, OutboxRelay, Transport, create_transport
from agora.platform.messaging.catchup import StartupCatchUp
from agora.platform.messaging.gauges import event_gauges_task
from agora.platform.messaging.metrics import preinitialise_outbox
from agora.platform.observability.logging import configure_logging
from agora.platform.observability.metrics import metrics_response, watch_pool
from agora.platform.observability.tracing import configure_tracing, flush_tracing, instrument_sqlalchemy
from agora.platform.peers import Peers
from agora.platform.service import ServiceContext, ServiceSpec, context_of
from agora.platform.settings import PlatformSettings, ServiceSettings, load_settings

log = structlog.get_logger(__name__)

READINESS_TIMEOUT = 2.0


IDENTITY_JWKS_PATH = "/api/identity/.well-known/jwks.json"


def _jwks_fetcher(platform: PlatformSettings, clients: Callable[[str], ServiceClient]) -> JwksFetcher | None:
    if platform.jwks_file is not None:
        return jwks_from_file(platform.jwks_file)
    if platform.jwks_url:
        url = platform.jwks_url

        async def fetch() -> dict[str, Any]:
            import httpx

            async with httpx.AsyncClient(timeout=platform.http_timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                document: dict[str, Any] = orjson.loads(response.content)
                return document

        return fetch

    async def from_identity() -> dict[str, Any]:
        # the default: identity's JWKS through the service client (in-process when embedded,
        # AGORA_SERVICE_URLS__IDENTITY when distributed), the same path as any service call
        response = await clients("identity").get(IDENTITY_JWKS_PATH)
        response.raise_for_status()
        document: dict[str, Any] = orjson.loads(response.content)
        return document

    return from_identity


def _revocations_fetcher(context: ServiceContext) -> RevocationFetcher:
    if context.spec.revocations_source is not None:  # identity reads its own database
        return context.spec.revocations_source(context)

    async def from_identity() -> Revocations:
        response = await context.clients("identity").get(REVOCATIONS_PATH, as_service=True)
        response.raise_for_status()
        return Revocations.model_validate_json(response.content)

    return from_identity


async def _replica_fanout(context: ServiceContext, stack: AsyncExitStack) -> Handler | None:
    """With Redis, the handler that also hands each revocation event to the sibling replicas."""
    if not context.platform.redis_url:
        return None
    from agora.platform.auth.replicas import ReplicaFanout  # only with Redis

    fanout = ReplicaFanout(context.token_verifier.revocations, context.platform.redis_url, context.name)
    try:
        await fanout.start()
    except Exception as exc:  # Redis away at start: replicas converge through the sync instead
        log.warning("revocation_fanout_unavailable", error=type(exc).__name__)
        await fanout.close()
        return None
    stack.push_async_callback(fanout.close)
    return fanout.handle


async def follow_revocations(context: ServiceContext, stack: AsyncExitStack) -> None:
    """Keeps the verifier's revocation list current: identity's events (handed on to the sibling
    replicas through Redis when configured), and the periodic sync (one per process)."""
    revocations = context.token_verifier.revocations
    handler = await _replica_fanout(context, stack) or revocations.apply
    subscription = await subscribe_revocations(context.transport, context.name, handler)
    stack.push_async_callback(subscription.stop)
    platform = context.platform
    shared_sync(platform, "revocations.sync", platform.revocation_sync_seconds, time.time).join(
        revocations, _revocations_fetcher(context)
    )
    stack.push_async_callback(leave_shared_sync, platform, revocations)


async def check_database(context: ServiceContext) -> None:
    async with context.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def readiness(context: ServiceContext) -> dict[str, str]:
    """Each dependency's state: "ok" or a one-line reason."""
    checks: dict[str, Callable[[], Any]] = {
        "database": lambda: check_database(context),
        "broker": context.transport.ping,
    }
    if context.catch_up is not None:
        checks["events"] = context.catch_up.check
    if context.spec.readiness_checks is not None:
        checks.update(context.spec.readiness_checks(context))

    async def run(check: Callable[[], Any]) -> str:
        try:
            await asyncio.wait_for(check(), READINESS_TIMEOUT)
        except TimeoutError:
            return f"timed out after {READINESS_TIMEOUT:g}s"
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return "ok"

    results = await asyncio.gather(*(run(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


@asynccontextmanager
async def service_runtime(
    spec: ServiceSpec,
    platform: PlatformSettings,
    settings: ServiceSettings,
    *,
    transport: Transport | None = None,
    client_app: ASGIApp | None = None,
    peers: Peers | None = None,
    start_background: bool = True,
) -> AsyncIterator[ServiceContext]:
    """Builds a service's objects, starts its relay and consumers, and tears them down in reverse."""
    async with AsyncExitStack() as stack:
        url = settings.resolved_database_url(platform)
        pool_size = pool_size_for(settings, platform)
        engine = create_engine(
            url,
            pool_size=pool_size,
            pool_timeout=platform.database_pool_timeout,
            max_waiting=platform.database_pool_queue,
            echo=settings.database_echo,
            pre_ping=settings.database_pre_ping,
        )
        stack.push_async_callback(engine.dispose)
        if platform.otlp_endpoint and platform.trace_sample_ratio > 0:
            # a span per statement costs ~0.2 ms of CPU each (a checkout runs ~50): worth it when
            # traces go somewhere, pure overhead when nothing exports them (no listener is even
            # attached: tests/unit/observability/test_trace_costs.py)
            instrument_sqlalchemy(engine)

        if transport is None:
            transport = create_transport(platform.broker_url)
            await transport.start()
            stack.push_async_callback(transport.close)

        clients: dict[str, ServiceClient] = {}

        def client_for(target: str) -> ServiceClient:
            if target not in clients:
                clients[target] = create_service_client(
                    target, settings=platform, app=client_app, token_provider=service_token
                )
            return clients[target]

        service_token = ServiceTokenProvider(spec.name, platform, lambda: client_for("identity"))

        async def close_clients() -> None:
            for client in clients.values():
                await client.aclose()

        stack.push_async_callback(close_clients)

        sessions = create_sessionmaker(engine)
        faults = (
            FaultFlags(sessions, service=spec.name, flags=spec.fault_flags, allowed=faults_allowed(platform))
            if spec.fault_flags
            else None
        )
        relay = OutboxRelay(
            sessions,
            transport,
            dialect=dialect_of(url),
            batch_size=platform.relay_batch_size,
            poll_interval=platform.relay_poll_interval,
            faults=faults,
        )
        cursor_codec = CursorCodec(platform.secret_key.get_secret_value().encode(), purpose=spec.name)
        context = ServiceContext(
            spec=spec,
            platform=platform,
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_sessions=create_sessionmaker(engine, read_only=True),
            transport=transport,
            outbox=Outbox(source=f"agora/{spec.name}"),
            relay=relay,
            cursor_codec=cursor_codec,
            cursors=Cursors(cursor_codec),
            idempotency=IdempotencyStore(sessions),
            token_verifier=TokenVerifier(
                _jwks_fetcher(platform, client_for),
                issuer=platform.jwt_issuer,
                audience=platform.jwt_audience,
                leeway_seconds=platform.jwt_leeway_seconds,
            ),
            clients=client_for,
            read_cache=ResponseCache(ttl=settings.read_cache_ttl, maxsize=settings.read_cache_size),
            faults=faults,
            peers=peers,
        )
        if spec.start is not None:
            # the service's composition root: exited (in reverse) before what the chassis built
            context.runtime = await stack.enter_async_context(spec.start(context))
        if start_background:
            watch_pool(spec.name, engine)
            preinitialise_outbox(context.outbox.source)
            started_at = datetime.now(UTC)
            relay.start()
            stack.push_async_callback(relay.stop)
            consumers = list(spec.consumers(context)) if spec.consumers else []
            for consumer in consumers:
                # a handler's events are published at once, as a request's are: the relay is woken
                # after the handler's commit instead of waiting for its next (idle, up to 30 s) poll
                consumer.on_commit = functools.partial(committed, context)
                await consumer.start()
                stack.push_async_callback(consumer.stop)
            context.catch_up = StartupCatchUp(relay, consumers, started_at=started_at)
            gauges = event_gauges_task(context.read_sessions, consumers, name=f"{spec.name}.event-gauges")
            for task in [gauges, *(spec.periodic(context) if spec.periodic else ())]:
                task.start()
                stack.push_async_callback(task.stop)
            await follow_revocations(context, stack)
        log.info(
            "service_started",
            service=spec.name,
            database=dialect_of(url),
            pool_size=pool_size,
            broker=platform.broker_url.split(":")[0],
        )
        yield context
        log.info("service_stopping", service=spec.name)


def freeze_startup_objects() -> None:
    """Moves everything built at start-up out of the garbage collector's reach.

    Start-up leaves hundreds of thousands of long-lived objects (modules, SQLAlchemy mappers,
    pydantic validators, routes). Without this every full collection walks them all, which showed
    up as ~150 ms stalls at the 99th percentile under load; ``gc.freeze`` is the CPython tool for
    exactly this (objects created later are collected as usual).
    """
    gc.collect()
    gc.freeze()


def request_state(context: ServiceContext) -> dict[str, Any]:
    """The lifespan state: the service context, nothing else (every service takes the typed
    dependencies of ``agora.platform.http.deps``; tests/unit/platform/test_composition_guard.py)."""
    return {"context": context}


def create_service_app(
    spec: ServiceSpec,
    platform: PlatformSettings,
    settings: ServiceSettings | None = None,
    *,
    transport: Transport | None = None,
    client_app: ASGIApp | None = None,
    peers: Peers | None = None,
    operations_routes: bool = True,
) -> FastAPI:
    """One service's ASGI app. ``transport``, ``client_app`` and ``peers`` are shared in embedded mode."""
    service_settings = settings if settings is not None else load_settings(spec.settings_cls)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        configure_logging(level=platform.log_level, json=platform.log_json, service=spec.name)
        configure_tracing(
            spec.name,
            otlp_endpoint=platform.otlp_endpoint,
            namespace=platform.service_namespace,
            sample_ratio=platform.trace_sample_ratio,
        )
        async with service_runtime(
            spec, platform, service_settings, transport=transport, client_app=client_app, peers=peers
        ) as context:
            app.state.context = context
            freeze_startup_objects()
            yield request_state(context)
        flush_tracing()

    app = ServiceApp(
        title=spec.title,
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=f"/api/{spec.name}/openapi.json",
        # the docs page is the chassis's own (platform/http/docs.py): local assets, the pages' CSP
        docs_url=None,
        redoc_url=None,
        # the chassis middleware owns the server span and RED metrics; FastAPI's own telemetry
        # would add a second span tree and OTel metrics to every request
        telemetry=FASTAPI_TELEMETRY,
    )
    install_problem_handlers(app)
    add_docs_routes(
        app, docs_url=f"/api/{spec.name}/docs", openapi_url=f"/api/{spec.name}/openapi.json", title=app.title
    )
    # the service router's routes join the app's own list: ``include_router`` would wrap them in a
    # lazily matched sub-router, one more matching layer on every request for nothing
    app.router.routes.extend(spec.router.routes)
    app.router.routes.extend(build_admin_router(spec.name).routes)
    if operations_routes:
        add_operations_routes(app)
    if spec.configure_app is not None:
        spec.configure_app(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        ChassisMiddleware,
        service=spec.name,
        max_body_bytes=service_settings.max_body_bytes or platform.max_body_bytes,
        access_log=platform.access_log,
    )
    return app


class ServiceApp(FastAPI):
    """A service's FastAPI app whose OpenAPI document also declares what the chassis answers."""

    _completed: dict[str, Any] | None = None

    def openapi(self) -> dict[str, Any]:
        document = super().openapi()
        # FastAPI caches the document (and rebuilds it when routes change): complete each build once
        if document is not self._completed:
            self._completed = complete_document(document, self.routes)
        return document


class HeadAsGet:
    """``HEAD`` answered as ``GET`` without the body (``curl -I``, link checkers, caches).

    Starlette's own routes do this, FastAPI's do not; adding HEAD to their methods would put a
    second operation per route in the OpenAPI document, so it is done here, before routing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def add_operations_routes(app: FastAPI) -> None:
    started = time.monotonic()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"status": "alive", "uptime_seconds": round(time.monotonic() - started, 1)}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        return readiness_response(await readiness(context_of(request)))

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        body, content_type = metrics_response(request.query_params.getlist("name[]"))
        return Response(body, media_type=content_type)
