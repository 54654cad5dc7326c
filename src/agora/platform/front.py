"""The front of ``agora up --distributed``: one port for the browser, each path forwarded to the
process of the service that answers it (a local stand-in for the cluster's ingress).

It runs in the supervising process, so it imports only what forwarding needs (httpx, Starlette,
the tracer, the metrics merge): not FastAPI, SQLAlchemy, the services' code or Alembic, which
the service processes load. ~45 MiB resident less than when it came with the whole runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import orjson
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from agora.platform.http.documents import problem_response, readiness_response
from agora.platform.http.tls import tls_context
from agora.platform.observability.metrics import merge_metrics, metrics_response
from agora.platform.observability.tracing import flush_tracing

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

API_PREFIX = "/api/"
#: the service that answers every path outside ``/api/`` (pages, static files)
WEB_SERVICE = "web"


def service_of(path: str) -> str | None:
    if not path.startswith(API_PREFIX):
        return None
    return path[len(API_PREFIX) :].split("/", 1)[0] or None


async def healthz(_: Request) -> Response:
    return Response(b'{"status":"alive"}', media_type="application/json")


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
        verify = tls_context(*service_urls.values())
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=verify) as client:
            client_holder["client"] = client
            yield
        flush_tracing()  # the front's spans (configured by ``agora up --distributed``)

    async def forward(request: Request) -> Response:
        name = service_of(request.url.path) or WEB_SERVICE
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
        name = service_of(websocket.url.path) or WEB_SERVICE
        base = service_urls.get(name)
        if base is None:
            await websocket.close(code=4404)
            return
        await _relay_websocket(websocket, base)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/healthz", healthz),
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


__all__ = ["API_PREFIX", "WEB_SERVICE", "create_front_app", "healthz", "service_of"]
