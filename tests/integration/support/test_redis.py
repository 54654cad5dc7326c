"""Across processes (AGORA_REDIS_URL set, the real Redis): two support instances sharing one
database and Redis, as two replicas would; a message posted on one reaches a WebSocket held by
the other, and the message rate limit is shared."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from agora.platform.fanout import RedisFanout
from agora.platform.testing.databases import service_databases
from agora.services.support.runtime import support_runtime

from .conftest import Chat, running_chat

pytestmark = pytest.mark.usefixtures("redis_url")


@pytest.fixture(scope="module")
async def replicas(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Chat, Chat]]:
    tmp = tmp_path_factory.mktemp("support-redis")
    prefix = f"test:support:{uuid.uuid4().hex}:"
    options = {"redis_prefix": prefix, "message_rate": 3, "message_rate_window_seconds": 60}
    async with service_databases("postgresql", ["identity", "support"], tmp) as urls:
        async with running_chat(urls, tmp / "a", redis_url=redis_url, **options) as first:
            async with running_chat(urls, tmp / "b", redis_url=redis_url, **options) as second:
                yield first, second


async def test_a_message_posted_on_one_replica_reaches_a_socket_on_the_other(replicas: tuple[Chat, Chat]) -> None:
    first, second = replicas
    customer, agent = await first.customer(), await first.agent()
    cid = (await first.open(customer)).json()["id"]
    assert isinstance(support_runtime(first.context).fanout, RedisFanout)
    async with second.socket(agent) as theirs, first.socket(customer) as mine:
        await theirs.subscribe(cid)
        await theirs.subscribe("inbox")
        await mine.subscribe(cid)
        assert (await first.post(customer, cid, "over REST on replica one")).status_code == 201
        arrived = await theirs.expect("message", within=1.0)
        assert arrived["message"]["body"] == "over REST on replica one"
        assert (await theirs.expect("inbox", within=1.0))["conversation"]["agent_unread"] == 1
        await theirs.send(type="message", conversation_id=cid, body="over the socket on replica two")
        answer = await mine.expect("message", within=1.0, author="agent")
        assert answer["message"]["body"] == "over the socket on replica two"


async def test_the_rate_limit_is_shared_by_the_replicas(replicas: tuple[Chat, Chat]) -> None:
    first, second = replicas
    customer = await first.customer()
    cid = (await first.open(customer)).json()["id"]
    for index, replica in enumerate((first, second, first)):
        assert (await replica.post(customer, cid, f"m{index}")).status_code == 201
    assert (await second.post(customer, cid, "one too many")).status_code == 429
