"""Identity and support running together, each on its own database, served by a real uvicorn
server on loopback so WebSocket tests use a real client (``websockets``) as a browser would.

Users are real identity accounts; agents are users an admin gave the ``support`` role.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from agora.platform.runtime import EmbeddedApp
from agora.platform.settings import PlatformSettings
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import identity, support
from agora.services.support.runtime import support_runtime
from tests.support.stack import User

API = "/api/support"
PASSWORD = "a long enough test passphrase"


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` on a real uvicorn server on a free loopback port (its lifespan already running)."""
    # bound and listening before uvicorn starts: early connections wait in the backlog
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="websockets-sansio", http="h11", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
        sock.close()


class Socket:
    """A WebSocket client that reads JSON frames with a deadline."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, **frame: Any) -> None:
        await self.connection.send(orjson.dumps(frame).decode())

    async def receive(self, *, within: float = 5.0) -> dict[str, Any]:
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.connection.recv(), within))
        return frame

    async def expect(self, frame_type: str, *, within: float = 5.0, author: str | None = None) -> dict[str, Any]:
        """The next frame of ``frame_type`` (of a message by ``author``, if given); others, e.g.
        the pushes of one's own messages, are skipped."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            frame = await self.receive(within=max(deadline - asyncio.get_running_loop().time(), 0.001))
            if frame["type"] == frame_type and (author is None or frame["message"]["author_role"] == author):
                return frame

    async def subscribe(self, conversation_id: str) -> dict[str, Any]:
        await self.send(type="subscribe", conversation_id=conversation_id)
        frame = await self.receive()
        assert frame["type"] == "subscribed", frame
        return frame


@dataclass
class Chat:
    client: httpx.AsyncClient
    embedded: EmbeddedApp
    address: str
    platform: PlatformSettings

    @property
    def context(self) -> Any:
        return self.embedded.contexts["support"]

    async def customer(self) -> User:
        email = f"c-{uuid.uuid4().hex[:12]}@example.org"
        registered = await self.client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        return await self.login(email)

    async def login(self, email: str) -> User:
        login = await self.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        me = await self.client.get("/api/identity/me", headers={"Authorization": f"Bearer {token}"})
        return User(id=me.json()["id"], email=email, token=token)

    async def agent(self) -> User:
        """A user an admin made a support agent (logged in again: the role is in the new token)."""
        from agora.services.identity.operations import create_admin

        admin_email = f"admin-{uuid.uuid4().hex[:12]}@example.org"
        await create_admin(self.embedded.contexts["identity"], email=admin_email, password=PASSWORD)
        admin = await self.login(admin_email)
        user = await self.customer()
        changed = await self.client.patch(
            f"/api/identity/users/{user.id}", json={"role": "support"}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
        return await self.login(user.email)

    async def open(self, user: User, **body: Any) -> httpx.Response:
        return await self.client.post(f"{API}/conversations", json=body or None, headers=user.headers)

    async def post(self, user: User, conversation_id: str, body: Any) -> httpx.Response:
        return await self.client.post(
            f"{API}/conversations/{conversation_id}/messages", json={"body": body}, headers=user.headers
        )

    async def history(self, user: User, conversation_id: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            f"{API}/conversations/{conversation_id}/messages", params=params, headers=user.headers
        )

    async def settled(self) -> None:
        await support_runtime(self.context).settled()

    @contextlib.asynccontextmanager
    async def socket(
        self, user: User | None = None, *, headers: dict[str, str] | None = None, query: str = ""
    ) -> AsyncIterator[Socket]:
        all_headers = dict(user.headers) if user is not None else {}
        all_headers.update(headers or {})
        async with connect(f"ws://{self.address}{API}/ws{query}", additional_headers=all_headers) as connection:
            yield Socket(connection)


@contextlib.asynccontextmanager
async def running_chat(
    urls: dict[str, str], tmp: Any, *, redis_url: str | None = None, **support_settings: Any
) -> AsyncIterator[Chat]:
    platform = platform_for_tests(tmp, jwks_file=None, redis_url=redis_url)
    settings = {
        "identity": identity.IdentitySettings(database_url=urls["identity"]),
        "support": support.SupportSettings(database_url=urls["support"], **support_settings),
    }
    async with running_services([identity.spec, support.spec], platform, settings) as (client, embedded):
        async with served(embedded) as address:
            yield Chat(client, embedded, address, platform)


@pytest.fixture(scope="module")
async def chat(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chat]:
    tmp = tmp_path_factory.mktemp("support")
    async with service_databases(database_backend, ["identity", "support"], tmp) as urls:
        async with running_chat(urls, tmp, message_rate=5, message_rate_window_seconds=60) as chat:
            yield chat
