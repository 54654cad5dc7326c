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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from agora.platform.db import create_engine, create_sessionmaker, dialect_of
from agora.platform.db.migrations import upgrade
from agora.platform.http.app import create_service_app, freeze_startup_objects, readiness, readiness_response
from agora.platform.http.problems import problem_response
from agora.platform.messaging import OutboxRelay, Transport, create_transport
from agora.platform.messaging.catchup import publish_outbox
from agora.platform.observability.logging import configure_logging
from agora.platform.observability.metrics import merge_metrics, metrics_response
from agora.platform.observability.tracing import configure_tracing, flush_tracing
from agora.platform.peers import Peers
from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.settings import PlatformSettings, ServiceSettings, load_settings

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"
#: the service that answers every path outside ``/api/`` (pages, static files)
WEB_SERVICE = "web"


def _service_of(path: str) -> str | None:
    if not path.startswith(API_PREFIX):
        return None
    return path[len(API_PREFIX) :].split("/", 1)[0] or None


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(404, detail="No service answers this path.", instance=scope.get("path"))
    await response(scope, receive, send)


async def _metrics(_: Request) -> Response:
    body, content_type = metrics_response()
    return Response(body, media_type=content_type)


async def _healthz(_: Request) -> Response:
    return Response(b'{"status":"alive"}', media_type="application/json")


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
                Route("/healthz", _healthz),
                Route("/readyz", self._readyz),
                Route("/metrics", _metrics),
            ],
            lifespan=self._lifespan,
        )
        # every path that is not an API's nor an operations route is the web's (when it runs)
        self.fallback_service: str | None = WEB_SERVICE if WEB_SERVICE in self.apps else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = _service_of(scope["path"])
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


# --- distributed mode: the local front proxy -------------------------------------------------

tracer = trace.get_tracer("agora.front")
_REPLACED_HEADERS = frozenset({"x-forwarded-for", "traceparent", "tracestate"})

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def create_front_app(service_urls: dict[str, str], *, timeout: float = 30.0) -> Starlette:
    """Forwards ``/api/<service>/...`` to each service process and every other path to the web's
    (local stand-in for the ingress); WebSockets are relayed the same way."""
    client_holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            client_holder["client"] = client
            yield
        flush_tracing()  # the front's spans (configured by ``agora up --distributed``)

    async def forward(request: Request) -> Response:
        name = _service_of(request.url.path) or WEB_SERVICE
        base = service_urls.get(name)
        if base is None:
            return problem_response(404, detail="No service answers this path.", instance=request.url.path)
        # The trace starts here (or continues the client's): the service's server span is its
        # child. It ends when the upstream answered its headers; a streamed body is not timed.
        route = f"/api/{name}/{{path}}" if name != WEB_SERVICE else "/{path}"
        with tracer.start_as_current_span(
            f"{request.method} {route}",
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "http.route": route,
                "url.path": request.url.path,
                "url.scheme": request.url.scheme,
            },
        ) as span:
            response = await _forward_upstream(client_holder["client"], request, name, base)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
        if not isinstance(response, httpx.Response):
            return response  # the service is unreachable: our problem document
        return _streamed_back(response)

    async def readyz(request: Request) -> Response:
        client = client_holder["client"]
        results = dict(await asyncio.gather(*(_probe(client, n, u) for n, u in sorted(service_urls.items()))))
        return readiness_response(results, instance=request.url.path)

    async def metrics(_: Request) -> Response:
        """Every service process's metrics in one scrape, each sample labelled with its process."""
        client = client_holder["client"]
        scraped = await asyncio.gather(*(_scrape(client, n, u) for n, u in sorted(service_urls.items())))
        body, content_type = merge_metrics({"front": metrics_response()[0].decode(), **dict(scraped)})
        return Response(body, media_type=content_type)

    async def forward_websocket(websocket: WebSocket) -> None:
        name = _service_of(websocket.url.path) or WEB_SERVICE
        base = service_urls.get(name)
        if base is None:
            await websocket.close(code=4404)
            return
        await _relay_websocket(websocket, base)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/{rest:path}", forward, methods=methods),
            WebSocketRoute("/{rest:path}", forward_websocket),
        ],
        lifespan=lifespan,
    )


def _streamed_back(response: httpx.Response) -> StreamingResponse:
    """The upstream's answer as the front's, its body streamed, hop-by-hop headers dropped."""
    streamed = StreamingResponse(
        response.aiter_raw(), status_code=response.status_code, background=BackgroundTask(response.aclose)
    )
    # multi_items: repeated headers stay repeated (identity's login sets three cookies)
    for key, value in response.headers.multi_items():
        if key.lower() not in _HOP_BY_HOP:
            streamed.headers.append(key, value)
    return streamed


async def _forward_upstream(
    client: httpx.AsyncClient, request: Request, name: str, base: str
) -> httpx.Response | Response:
    """Sends the request on to the service process (a 502 problem when it is unreachable)."""
    # the front is the edge: a client's own X-Forwarded-For is dropped, never passed on, and
    # the trace context the services see is the front's span, not what the client sent
    headers = [
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in _HOP_BY_HOP and k.lower() not in _REPLACED_HEADERS
    ]
    headers.append(("x-forwarded-for", request.client.host if request.client else ""))
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.extend(carrier.items())
    upstream = client.build_request(
        request.method,
        base.rstrip("/") + request.url.path,
        params=request.url.query,
        headers=headers,
        content=request.stream(),
    )
    try:
        return await client.send(upstream, stream=True)
    except httpx.HTTPError as exc:
        return problem_response(
            502, detail=f"The {name} service is unreachable ({type(exc).__name__}).", instance=request.url.path
        )


async def _probe(client: httpx.AsyncClient, name: str, base: str) -> tuple[str, str]:
    """One service process's readiness as the front's /readyz reports it."""
    try:
        response = await client.get(base.rstrip("/") + "/readyz", timeout=3.0)
    except httpx.HTTPError as exc:
        return name, f"unreachable: {type(exc).__name__}"
    if response.status_code == 200:
        return name, "ok"
    detail = orjson.loads(response.content).get("detail", "") if response.content else ""
    return name, f"not ready: {detail}".strip()


async def _scrape(client: httpx.AsyncClient, name: str, base: str) -> tuple[str, str]:
    """One service process's metrics text ("" when it is down: /readyz says why)."""
    try:
        response = await client.get(base.rstrip("/") + "/metrics", timeout=5.0)
    except httpx.HTTPError:
        return name, ""
    return name, response.text if response.status_code == 200 else ""


#: request headers a proxied WebSocket handshake carries on (the session cookie, a bearer, the
#: origin the service checks against cross-site hijacking, the trace)
_WEBSOCKET_HEADERS = ("cookie", "authorization", "origin", "traceparent", "x-request-id", "user-agent")


async def _relay_websocket(websocket: WebSocket, base: str) -> None:
    """Relays one WebSocket to the service's process, both ways, until either side closes.

    Starlette has no WebSocket client and httpx speaks no WebSocket, so the upstream side is the
    ``websockets`` library's client (installed with uvicorn's standard extras).
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    # the handshake names the public host (the service checks Origin against Host, as it would
    # behind an ingress) while the connection goes to the service's own address
    upstream_url = urlsplit(base)
    scheme = "wss" if upstream_url.scheme == "https" else "ws"
    public_host = websocket.headers.get("host") or upstream_url.netloc
    target = f"{scheme}://{public_host}{websocket.url.path}"
    if websocket.url.query:
        target += "?" + websocket.url.query
    headers = [
        (k, v) for k, v in websocket.headers.items() if k.lower() in _WEBSOCKET_HEADERS and k.lower() != "origin"
    ]
    if websocket.client is not None:
        headers.append(("x-forwarded-for", websocket.client.host))
    try:
        upstream = await connect(
            target,
            additional_headers=headers,
            origin=websocket.headers.get("origin"),  # type: ignore[arg-type]
            open_timeout=5,
            host=upstream_url.hostname,
            port=upstream_url.port or (443 if scheme == "wss" else 80),
        )
    except InvalidStatus as exc:
        await websocket.close(code=4000 + min(exc.response.status_code, 999) % 1000)
        return
    except (OSError, TimeoutError):
        await websocket.close(code=1011)
        return
    await websocket.accept()
    tasks = [
        asyncio.create_task(_client_to_upstream(websocket, upstream)),
        asyncio.create_task(_upstream_to_client(upstream, websocket)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()


async def _client_to_upstream(websocket: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close()
            return
        if message.get("text") is not None:
            await upstream.send(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send(message["bytes"])


async def _upstream_to_client(upstream: ClientConnection, websocket: WebSocket) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for data in upstream:
            if isinstance(data, str):
                await websocket.send_text(data)
            else:
                await websocket.send_bytes(data)
    except ConnectionClosed:
        pass
    code = upstream.close_code or 1000
    await websocket.close(code=code if code != 1006 else 1011)
