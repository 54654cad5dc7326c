"""The in-process broker keeps the at-least-once contract of the networked ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agora.platform.messaging import Envelope, create_transport
from agora.platform.messaging.transports.memory import MemoryTransport


@pytest.fixture
async def broker() -> AsyncIterator[MemoryTransport]:
    transport = create_transport("memory://")
    assert isinstance(transport, MemoryTransport)
    await transport.start()
    yield transport
    await transport.close()


def _event(n: int) -> Envelope:
    return Envelope(type="t.x.y", source="s", data={"n": n})


async def test_a_message_in_flight_when_stopped_goes_to_the_next_member(broker: MemoryTransport) -> None:
    entered = asyncio.Event()
    redelivered: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()

    async def stuck(envelope: Envelope) -> None:
        entered.set()
        await asyncio.Event().wait()  # never returns: the subscription is stopped meanwhile

    async def second(envelope: Envelope) -> None:
        redelivered.set_result(envelope)

    await broker.publish("t", _event(1))
    first = await broker.subscribe("t", "g", stuck)
    await asyncio.wait_for(entered.wait(), 5)
    await first.stop()
    await broker.subscribe("t", "g", second)
    assert (await asyncio.wait_for(redelivered, 5)).data == {"n": 1}


async def test_a_failing_handler_gets_the_message_again(broker: MemoryTransport) -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def flaky(envelope: Envelope) -> None:
        calls.append(envelope.data["n"])
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        done.set()

    await broker.subscribe("t", "g", flaky)
    await broker.publish("t", _event(1))
    await asyncio.wait_for(done.wait(), 5)
    assert calls == [1, 1]


async def test_groups_each_get_every_message_and_members_share_them(broker: MemoryTransport) -> None:
    seen: dict[str, list[int]] = {"a1": [], "a2": [], "b": []}
    all_b, all_a = asyncio.Event(), asyncio.Event()

    def recorder(name: str):
        async def handle(envelope: Envelope) -> None:
            seen[name].append(envelope.data["n"])
            await asyncio.sleep(0)  # let the other member of the group take turns
            if name == "b" and len(seen["b"]) == 50:
                all_b.set()
            if name != "b" and len(seen["a1"]) + len(seen["a2"]) == 50:
                all_a.set()

        return handle

    await broker.subscribe("t", "a", recorder("a1"))
    await broker.subscribe("t", "a", recorder("a2"))
    for n in range(50):
        await broker.publish("t", _event(n))
    await broker.subscribe("t", "b", recorder("b"))  # a late group starts from the oldest retained
    await asyncio.wait_for(asyncio.gather(all_a.wait(), all_b.wait()), 5)
    assert sorted(seen["a1"] + seen["a2"]) == list(range(50))
    assert seen["b"] == list(range(50))


async def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        create_transport("amqp://localhost")
