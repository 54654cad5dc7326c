"""With AGORA_REDIS_URL set (the real Redis): pushes fan out across processes through pub/sub,
and the recent cache is a Redis list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from agora.contracts import orders
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import identity, notifications
from agora.services.notifications.cache import Recent, RedisRecent
from agora.services.notifications.handlers import consumers
from agora.services.notifications.push import RedisHub
from agora.services.notifications.runtime import notifications_runtime

from .conftest import API, Notifications
from .support import Catcher, new_order_id, open_stream, order_event

pytestmark = pytest.mark.usefixtures("redis_url")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_push_reaches_the_streams_of_another_process_and_only_its_user(redis: Redis) -> None:
    channel = f"test:notifications:{uuid.uuid4().hex}:push"
    publisher, receiver = RedisHub(redis, channel=channel), RedisHub(redis, channel=channel)  # two processes
    try:
        async with receiver.subscribe("ada") as ada, receiver.subscribe("bob") as bob:
            await publisher.publish("ada", {"id": "n-1", "kind": "order_paid"})
            assert (await _get(ada)) == {"id": "n-1", "kind": "order_paid"}
            await publisher.publish("bob", {"id": "n-2", "kind": "order_shipped"})
            assert (await _get(bob))["id"] == "n-2"
            assert ada.empty()  # bob's did not reach ada
    finally:
        await publisher.close()
        await receiver.close()


async def _get(queue: Any) -> Any:
    return await asyncio.wait_for(queue.get(), 10.0)


async def test_the_recent_cache_round_trip_and_invalidation(redis: Redis) -> None:
    cache = RedisRecent(redis, prefix=f"test:notifications:{uuid.uuid4().hex}:", ttl_seconds=60)
    assert await cache.get("ada") is None
    recent = Recent(items=[{"id": "n-2"}, {"id": "n-1"}], more=True, unread_count=2)
    await cache.put("ada", recent)
    assert await cache.get("ada") == recent
    empty = Recent(items=[], more=False, unread_count=0)
    await cache.put("bob", empty)
    assert await cache.get("bob") == empty  # an empty list is cached too
    await cache.invalidate("ada")
    assert await cache.get("ada") is None


@pytest.fixture(scope="module")
async def with_redis(
    redis_url: str, smtp: tuple[Catcher, int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Notifications]:
    catcher, port = smtp
    tmp = tmp_path_factory.mktemp("notifications-redis")
    async with service_databases("sqlite", ["identity", "notifications"], tmp) as urls:
        platform = platform_for_tests(tmp, jwks_file=None, redis_url=redis_url)
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "notifications": notifications.NotificationsSettings(
                database_url=urls["notifications"],
                smtp_host="127.0.0.1",
                smtp_port=port,
                redis_prefix=f"test:notifications:{uuid.uuid4().hex}:",
            ),
        }
        async with running_services([identity.spec, notifications.spec], platform, settings) as (client, embedded):
            (consumer,) = consumers(embedded.contexts["notifications"])
            yield Notifications(client, embedded, catcher, consumer)


async def test_the_service_pushes_and_caches_through_redis(with_redis: Notifications, redis: Redis) -> None:
    notif = with_redis
    settings = notif.context.settings
    user = await notif.user()
    # another replica (its own hub on the same channel) stores a notification and publishes it
    other_replica = RedisHub(redis, channel=f"{settings.redis_prefix}push")
    try:
        async with open_stream(notif.embedded, user.headers) as stream:
            await other_replica.publish(user.id, {"id": "from-elsewhere", "kind": "order_shipped"})
            event = await stream.next_event(within=10.0)
            assert event == ("notification", {"id": "from-elsewhere", "kind": "order_shipped"})
            # and this process's own notifications go through Redis as well
            order_id = new_order_id()
            await notif.deliver(order_event(orders.ORDER_DELIVERED, order_id, user.id))
            event = await stream.next_event(within=10.0)
            assert event is not None and event[1]["order_id"] == order_id
    finally:
        await other_replica.close()

    page = await notif.list(user)
    cached = await redis.lrange(f"{settings.redis_prefix}recent:{user.id}", 0, -1)
    assert [orjson.loads(item)["id"] for item in cached] == [item["id"] for item in page["items"]]
    read = await notif.client.post(f"{API}/{page['items'][0]['id']}/read", headers=user.headers)
    assert read.status_code == 200
    await notifications_runtime(notif.context).settled()
    assert await redis.exists(f"{settings.redis_prefix}recent:{user.id}:meta") == 0
    assert (await notif.list(user))["unread_count"] == 0
