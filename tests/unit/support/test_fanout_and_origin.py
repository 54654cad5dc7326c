"""The chassis fan-out in memory (topics, bounded queues, close) and the socket's Origin rule."""

from __future__ import annotations

import asyncio

import pytest

from agora.platform.fanout import LocalFanout, channel_name, create_fanout
from agora.services.support.socket import origin_allowed


async def test_documents_reach_only_their_topic() -> None:
    fanout = create_fanout(None, channel=channel_name("support"))
    assert isinstance(fanout, LocalFanout)
    async with fanout.subscribe("conversation:1") as one, fanout.subscribe("inbox") as inbox:
        await fanout.publish("conversation:1", {"n": 1})
        await fanout.publish("inbox", {"n": 2})
        assert one.get_nowait() == {"n": 1} and inbox.get_nowait() == {"n": 2}
        assert one.empty() and inbox.empty()
        assert fanout.subscribers("inbox") == 1
    assert fanout.subscribers("inbox") == 0
    assert fanout.deliver("inbox", {"n": 3}) == 0  # nobody listens any more


async def test_a_full_queue_loses_the_document_not_the_others() -> None:
    fanout = LocalFanout(queue_size=1)
    async with fanout.subscribe("t") as slow, fanout.subscribe("t") as fast:
        assert fanout.deliver("t", {"n": 1}) == 2
        fast.get_nowait()
        assert fanout.deliver("t", {"n": 2}) == 1  # the slow one is full
        assert slow.get_nowait() == {"n": 1} and fast.get_nowait() == {"n": 2}


async def test_close_ends_every_stream() -> None:
    fanout = LocalFanout()
    async with fanout.subscribe("t") as queue:
        await fanout.close()
        assert await asyncio.wait_for(queue.get(), 1.0) is None


def test_channel_names_carry_the_service() -> None:
    assert channel_name("support") == "agora:support:fanout"


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "shop.example", [], True),
        ("https://shop.example", "shop.example", [], True),
        ("https://shop.example:443", "shop.example", [], True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),
        ("HTTPS://Shop.Example", "shop.example", [], True),
        ("https://evil.example", "shop.example", [], False),
        ("https://shop.example.evil.example", "shop.example", [], False),
        ("http://127.0.0.1:9000", "127.0.0.1:8000", [], False),
        ("null", "shop.example", [], False),
        ("https://shop.example", None, [], False),
        ("https://admin.example", "api.example", ["https://admin.example/"], True),
    ],
)
def test_origin_rule(origin: str | None, host: str | None, allowed: list[str], expected: bool) -> None:
    assert origin_allowed(origin, host, allowed) is expected
