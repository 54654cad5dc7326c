"""Open notification streams are capped per user and per process, on a real server: one past a
cap is a 429 problem with Retry-After naming the cap; a closed stream gives its place back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import identity, notifications
from agora.services.notifications.runtime import notifications_runtime
from tests.support.servers import serving

PASSWORD = "a long enough test passphrase"
STREAM = "/api/notifications/stream"
_reading: list[object] = []


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, httpx.AsyncClient, object]]:
    async with service_databases("sqlite", ["identity", "notifications"], tmp_path) as urls:
        platform = platform_for_tests(tmp_path, jwks_file=None)
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "notifications": notifications.NotificationsSettings(
                database_url=urls["notifications"],
                stream_max_per_user=2,
                stream_max_total=3,
                stream_retry_after_seconds=7,
            ),
        }
        async with running_services([identity.spec, notifications.spec], platform, settings) as (client, embedded):
            async with serving(embedded, lifespan="off") as address:
                yield f"http://{address}", client, embedded


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"s-{uuid.uuid4().hex[:12]}@example.org"
    assert (await client.post("/api/identity/register", json={"email": email, "password": PASSWORD})).status_code == 201
    login = await client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def open_stream(
    stack: AsyncExitStack, http: httpx.AsyncClient, base: str, headers: dict[str, str]
) -> httpx.Response:
    response = await stack.enter_async_context(http.stream("GET", f"{base}{STREAM}", headers=headers))
    if response.status_code == 200:
        chunks = response.aiter_bytes()
        _reading.append(chunks)  # an iterator left to the garbage collector would close the stream
        assert b"event: ready" in await anext(chunks)  # the server holds this stream open
    else:
        await response.aread()
    return response


def assert_refused(response: httpx.Response, limit: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "7"
    problem = response.json()
    assert problem["limit"] == limit and problem["retry_after"] == 7


async def test_streams_past_a_cap_are_429_and_a_closed_one_frees_its_place(
    server: tuple[str, httpx.AsyncClient, object],
) -> None:
    base, client, embedded = server
    ada, bob, cyd = await bearer(client), await bearer(client), await bearer(client)
    limiter = notifications_runtime(embedded.contexts["notifications"]).streams  # type: ignore[attr-defined]
    async with httpx.AsyncClient(timeout=10) as http, AsyncExitStack() as stack:
        first = await open_stream(stack, http, base, ada)
        assert first.status_code == 200
        assert (await open_stream(stack, http, base, ada)).status_code == 200
        assert_refused(await open_stream(stack, http, base, ada), "streams_per_user")
        assert (await open_stream(stack, http, base, bob)).status_code == 200
        assert_refused(await open_stream(stack, http, base, cyd), "streams")  # three open in all
        assert limiter.open == 3

        await first.aclose()  # ada leaves one: its place is given back once the server sees it go

        async def freed() -> bool:
            return limiter.open == 2

        await eventually(freed, within=10, what="the closed stream's slot released")
        assert (await open_stream(stack, http, base, cyd)).status_code == 200
    _reading.clear()
    await eventually(lambda: _none_open(limiter), within=10, what="every slot released")


async def _none_open(limiter: object) -> bool:
    return limiter.open == 0  # type: ignore[attr-defined]
