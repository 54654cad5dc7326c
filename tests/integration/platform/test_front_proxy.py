"""The local front proxy of ``agora up --distributed``: API paths to their service, every other
path to the web, and WebSockets relayed both ways (real uvicorn servers on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agora.platform.front import create_front_app
from tests.support.servers import serving

pytestmark = pytest.mark.backend("memory")


def upstream(name: str) -> Starlette:
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            f"{name} {request.method} {request.url.path} cookie={request.cookies.get('agora_access', '')}"
        )

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        origin, host = websocket.headers.get("origin", ""), websocket.headers.get("host", "")
        await websocket.send_text(f"hello from {name}, origin={origin}, host={host}")
        async for text in websocket.iter_text():
            if text == "bye":
                await websocket.close(code=4001)
                return
            await websocket.send_text(f"{name} echoes {text}")

    async def login(_: Request) -> PlainTextResponse:
        response = PlainTextResponse("signed in")
        for name in ("agora_access", "agora_refresh", "agora_csrf"):
            response.set_cookie(name, f"{name}-value", path="/")
        return response

    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(code=4403)

    return Starlette(
        routes=[
            WebSocketRoute("/api/support/ws", echo),
            WebSocketRoute("/api/support/refused", refuse),
            Route("/api/support/login", login, methods=["POST"]),
            Route("/{rest:path}", page, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture
async def front() -> AsyncIterator[str]:
    async with serving(upstream("web")) as web, serving(upstream("support")) as support:
        app = create_front_app({"web": f"http://{web}", "support": f"http://{support}"})
        async with serving(app) as address:
            yield address


async def test_pages_go_to_the_web_and_apis_to_their_service(front: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{front}", cookies={"agora_access": "t0k"}) as client:
        page = await client.get("/p/some-product")
        api = await client.post("/api/support/conversations")
        missing = await client.get("/api/nowhere/x")
    assert page.text == "web GET /p/some-product cookie=t0k"
    assert api.text == "support POST /api/support/conversations cookie=t0k"
    assert missing.status_code == 404


async def test_websockets_are_relayed_both_ways_with_cookie_and_origin(front: str) -> None:
    headers = {"cookie": "agora_access=t0k"}
    async with connect(f"ws://{front}/api/support/ws", additional_headers=headers, origin=f"http://{front}") as ws:  # type: ignore[arg-type]
        # the service sees the public host, so its Origin check works as behind an ingress
        assert await ws.recv() == f"hello from support, origin=http://{front}, host={front}"
        await ws.send("ping")
        assert await ws.recv() == "support echoes ping"
        await ws.send("bye")
        with pytest.raises(Exception) as closed:
            await ws.recv()
    assert ws.close_code == 4001, closed.value


async def test_a_refused_websocket_is_refused_for_the_client_too(front: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{front}/api/support/refused"):
            pass
    assert refused.value.response.status_code == 403


async def test_every_cookie_a_service_sets_reaches_the_client(front: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{front}") as client:
        response = await client.post("/api/support/login")
    assert response.text == "signed in"
    assert response.headers["content-type"].startswith("text/plain")
    assert sorted(c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")) == [
        "agora_access",
        "agora_csrf",
        "agora_refresh",
    ]
