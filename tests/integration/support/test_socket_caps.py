"""Open chat sockets are capped per user and per process, on a real server: one past a cap is
accepted and closed with 1013 (try again later); a closed socket gives its place back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from agora.contracts.support import CLOSE_TRY_AGAIN_LATER
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services.support.runtime import support_runtime

from .conftest import Chat, Socket, running_chat


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Chat]:
    async with service_databases("sqlite", ["identity", "support"], tmp_path) as urls:
        async with running_chat(urls, tmp_path, socket_max_per_user=2, socket_max_total=3) as chat:
            yield chat


async def refused(socket: Socket) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await socket.receive()
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


async def test_sockets_past_a_cap_are_closed_with_1013(capped: Chat) -> None:
    ada, bob, cyd = await capped.customer(), await capped.customer(), await capped.customer()
    limiter = support_runtime(capped.context).sockets
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(capped.socket(ada))
        await first.send(type="ping")
        assert (await first.receive())["type"] == "pong"
        await stack.enter_async_context(capped.socket(ada))
        async with capped.socket(ada) as third:
            assert await refused(third) == CLOSE_TRY_AGAIN_LATER
        await stack.enter_async_context(capped.socket(bob))

        async def three_open() -> bool:
            return limiter.open == 3

        await eventually(three_open, within=10, what="three sockets admitted")
        async with capped.socket(cyd) as fourth:  # the process is full
            assert await refused(fourth) == CLOSE_TRY_AGAIN_LATER

        await first.connection.close()

        async def freed() -> bool:
            return limiter.open == 2

        await eventually(freed, within=10, what="the closed socket's slot released")
        async with capped.socket(cyd) as admitted:
            await admitted.send(type="ping")
            assert (await admitted.receive())["type"] == "pong"
