"""Composition roots for the three ways to run: embedded, one service, and the local front proxy.

* :func:`create_embedded_app`: every service in one process (``agora up``). Each service keeps
  its own FastAPI app, database and outbox; a path dispatcher sends ``/api/<service>/`` to it,
  the services share one in-process broker, and their HTTP clients are wired to this very app.
* :func:`create_front_app`: ``agora up --distributed`` starts each service as its own process;
  this app listens on the public port and forwards ``/api/<service>/`` to each (in a cluster
  the ingress does this instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agora.platform.db import create_engine, create_sessionmaker, dialect_of
from agora.platform.db.migrations import upgrade
from agora.platform.front import WEB_SERVICE, healthz, service_of
from agora.platform.http.app import create_service_app, freeze_startup_objects, readiness
from agora.platform.http.documents import problem_response, readiness_response
from agora.platform.messaging import OutboxRelay, Transport, create_transport
from agora.platform.messaging.catchup import publish_outbox
from agora.platform.observability.logging import configure_logging
from agora.platform.observability.metrics import metrics_response
from agora.platform.observability.tracing import configure_tracing
from agora.platform.peers import Peers
from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.settings import PlatformSettings, ServiceSettings, load_settings

log = structlog.get_logger(__name__)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(404, detail="No service answers this path.", instance=scope.get("path"))
    await response(scope, receive, send)


async def _metrics(request: Request) -> Response:
    body, content_type = metrics_response(request.query_params.getlist("name[]"))
    return Response(body, media_type=content_type)


class EmbeddedApp:
    """Every service in one process, each behind its ``/api/<name>/`` prefix."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        platform: PlatformSettings,
        *,
        settings: dict[str, ServiceSettings] | None = None,
    ) -> None:
        self.platform = platform
        self.specs = {spec.name: spec for spec in specs}
        given = settings or {}
        self.settings: dict[str, ServiceSettings] = {
            spec.name: given.get(spec.name) or load_settings(spec.settings_cls) for spec in specs
        }
        self.apps: dict[str, FastAPI] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.contexts: dict[str, ServiceContext] = {}
        # the in-process broker journals to the data directory, so an event the relay marked
        # published is still delivered after a crash (docs/architecture.md, "Events")
        self._shared_transport = create_transport(platform.broker_url, data_dir=platform.data_dir)
        # direct calls between the services (agora.platform.peers): a peer is reachable once started
        self.peers = Peers(self.specs, self.contexts)
        for spec in specs:
            self.apps[spec.name] = create_service_app(
                spec,
                platform,
                self.settings[spec.name],
                transport=self._shared_transport,
                client_app=self,
                peers=self.peers,
                operations_routes=False,
            )
        self.root = Starlette(
            routes=[
                Route("/healthz", healthz),
                Route("/readyz", self._readyz),
                Route("/metrics", _metrics),
            ],
            lifespan=self._lifespan,
        )
        # every path that is not an API's nor an operations route is the web's (when it runs)
        self.fallback_service: str | None = WEB_SERVICE if WEB_SERVICE in self.apps else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = service_of(scope["path"])
            if name is not None:
                app = self.apps.get(name)
                if app is None:
                    await _not_found(scope, receive, send)
                    return
                # each service sees its own lifespan state, as it would in its own process
                await app({**scope, "state": dict(self.states[name])}, receive, send)
                return
            if scope["path"] not in ("/healthz", "/readyz", "/metrics"):
                if self.fallback_service is None:
                    await _not_found(scope, receive, send)
                    return
                web = self.fallback_service
                await self.apps[web]({**scope, "state": dict(self.states[web])}, receive, send)
                return
        await self.root(scope, receive, send)

    @asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        async with self.running():
            yield

    @asynccontextmanager
    async def running(self) -> AsyncIterator[EmbeddedApp]:
        """Starts every service (also usable without a server, e.g. in tests over ASGITransport)."""
        configure_logging(level=self.platform.log_level, json=self.platform.log_json, service="agora")
        configure_tracing(
            "agora",
            otlp_endpoint=self.platform.otlp_endpoint,
            namespace=self.platform.service_namespace,
            sample_ratio=self.platform.trace_sample_ratio,
        )
        async with AsyncExitStack() as stack:
            await self._shared_transport.start()
            stack.push_async_callback(self._shared_transport.close)
            for name, app in self.apps.items():
                state = await stack.enter_async_context(app.router.lifespan_context(app))
                self.states[name] = dict(state or {})
                self.contexts[name] = self.states[name]["context"]
                stack.callback(self.contexts.pop, name, None)  # unreachable to peers once it stops
            log.info("embedded_started", services=sorted(self.apps))
            freeze_startup_objects()
            yield self

    async def _readyz(self, request: Request) -> Response:
        names = sorted(self.contexts)
        results = await asyncio.gather(*(readiness(self.contexts[name]) for name in names))
        flat = {
            f"{name}.{check}": state
            for name, result in zip(names, results, strict=True)
            for check, state in result.items()
        }
        return readiness_response(flat, instance=request.url.path)


def create_embedded_app(specs: Sequence[ServiceSpec], platform: PlatformSettings) -> EmbeddedApp:
    return EmbeddedApp(specs, platform)


async def migrate_service(
    spec: ServiceSpec, platform: PlatformSettings, settings: ServiceSettings | None = None
) -> None:
    settings = settings if settings is not None else load_settings(spec.settings_cls)
    engine = create_engine(settings.resolved_database_url(platform), pool_size=1)  # one transaction
    try:
        await upgrade(engine, service=spec.name, migrations_dir=spec.migrations_dir)
    finally:
        await engine.dispose()


@asynccontextmanager
async def service_context(
    spec: ServiceSpec, platform: PlatformSettings, settings: ServiceSettings | None = None
) -> AsyncIterator[ServiceContext]:
    """A service's objects without its relay and consumers, for one-off work (seeding, operator
    commands); events it writes stay in the outbox for the running service to publish."""
    from agora.platform.http.app import service_runtime

    settings = settings if settings is not None else load_settings(spec.settings_cls)
    transport = create_transport("memory://")
    await transport.start()
    try:
        async with service_runtime(spec, platform, settings, transport=transport, start_background=False) as context:
            yield context
    finally:
        await transport.close()


async def seed_service(spec: ServiceSpec, platform: PlatformSettings, settings: ServiceSettings | None = None) -> int:
    """Runs the service's seed (idempotent); returns the number of rows it added."""
    if spec.seed is None:
        return 0
    async with service_context(spec, platform, settings) as context:
        return await spec.seed(context)


async def publish_waiting_events(
    specs: Sequence[ServiceSpec], platform: PlatformSettings, transport: Transport
) -> dict[str, int]:
    """Publishes what each service's outbox holds (the seed's events) before the services start.

    A service is ready once it has handled what its broker held when it started
    (``agora.platform.messaging.catchup``): with the seed's events already there, its first
    ``ready`` means it knows every seeded product, whichever service's relay would have been first.
    """
    published: dict[str, int] = {}
    for spec in specs:
        url = load_settings(spec.settings_cls).resolved_database_url(platform)
        engine = create_engine(url)
        try:
            relay = OutboxRelay(
                create_sessionmaker(engine), transport, dialect=dialect_of(url), batch_size=platform.relay_batch_size
            )
            published[spec.name] = await publish_outbox(relay)
        finally:
            await engine.dispose()
    return published
