"""The small Redis pub/sub client against the real Redis: what is published arrives, a connection
Redis drops is re-opened and re-subscribed, a refused AUTH and an absent server are errors."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agora.platform.redis_channel import RedisAddress, RedisChannel, RedisReplyError, ping
from agora.platform.testing.processes import free_port
from agora.platform.testing.waiting import eventually

pytestmark = [pytest.mark.backend("redis"), pytest.mark.timeout(30)]


@contextlib.asynccontextmanager
async def listening(channel: RedisChannel) -> AsyncIterator[asyncio.Queue[bytes]]:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def listen() -> None:
        async for data in channel.messages():
            received.put_nowait(data)

    await channel.start()
    task = asyncio.create_task(listen())
    try:
        yield received
    finally:
        await channel.close()
        await asyncio.wait_for(task, 5)  # close ends the iteration


async def test_what_is_published_reaches_every_subscriber(redis_url: str) -> None:
    name = f"test:{uuid.uuid4().hex}"
    first, second = RedisChannel(redis_url, name), RedisChannel(redis_url, name)
    async with listening(first) as one, listening(second) as two:
        assert await first.publish(b'{"n": 1}') == 2
        assert await second.publish(b"\x00binary\r\n") == 2
        for queue in (one, two):
            assert await asyncio.wait_for(queue.get(), 5) == b'{"n": 1}'
            assert await asyncio.wait_for(queue.get(), 5) == b"\x00binary\r\n"


async def test_a_dropped_subscription_is_opened_again(redis_url: str) -> None:
    name = f"test:{uuid.uuid4().hex}"
    channel = RedisChannel(redis_url, name)
    admin = Redis.from_url(redis_url)
    try:
        async with listening(channel) as received:
            assert channel._subscriber is not None
            port = channel._subscriber[1].get_extra_info("sockname")[1]
            clients = await admin.client_list()
            (ours,) = [client for client in clients if client["addr"].endswith(f":{port}")]
            assert await admin.client_kill_filter(_id=ours["id"]) == 1

            async def delivered() -> bool:  # published until the re-subscribed listener hears one
                await admin.publish(name, b"again")
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(received.get(), 0.2) == b"again"
                return False

            await eventually(delivered, within=10, what="a message after Redis dropped the subscription")
    finally:
        await admin.aclose()


async def test_ping_answers_and_fails_where_it_should(redis_url: str) -> None:
    await ping(redis_url)
    with pytest.raises(OSError):
        await ping(f"redis://127.0.0.1:{free_port()}/0")
    address = RedisAddress.from_url(redis_url)
    with pytest.raises(RedisReplyError):  # this Redis has no password: AUTH is refused
        await ping(f"redis://:not-the-password@{address.host}:{address.port}/0")


def test_addresses_are_read_from_urls() -> None:
    assert RedisAddress.from_url("rediss://agora:p%40ss@cache.internal:6380/2") == RedisAddress(
        host="cache.internal", port=6380, tls=True, username="agora", password="p@ss"
    )
    assert RedisAddress.from_url("redis://localhost") == RedisAddress(host="localhost")
    assert RedisAddress.from_url("unix:///run/redis.sock?password=s").path == "/run/redis.sock"
    with pytest.raises(ValueError, match="not a Redis URL"):
        RedisAddress.from_url("http://localhost:6379")
