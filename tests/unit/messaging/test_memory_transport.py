"""The in-process broker keeps the at-least-once contract of the networked ones."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agora.platform.messaging import Envelope, create_transport
from agora.platform.messaging.transports import JOURNAL_FILE, Outgoing
from agora.platform.messaging.transports.base import stop_all
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


async def test_stop_returns_when_the_handler_in_flight_swallows_the_cancel(broker: MemoryTransport) -> None:
    """A handler may swallow a cancel (``asyncio.wait_for`` on Python 3.11 does when its inner
    task has just finished) and return: the loop must end there rather than wait for the next
    message, or a shutdown with nothing more to deliver never finishes (it hung a CI teardown)."""
    entered, release = asyncio.Event(), asyncio.Event()
    handled: list[int] = []

    async def swallows(envelope: Envelope) -> None:
        entered.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            pass  # as wait_for does: the cancel is lost and the handler completes
        handled.append(envelope.data["n"])

    await broker.publish("t", _event(1))
    subscription = await broker.subscribe("t", "g", swallows)
    await asyncio.wait_for(entered.wait(), 5)
    # not wait_for: on its timeout it cancels stop(), whose cancel then ends the loop anyway
    stopping = asyncio.ensure_future(subscription.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done, "stop() still waits for a loop the handler kept running"
    assert handled == [1]
    assert await broker.backlog("t", "g") == 0  # it was handled: acknowledged, not delivered again


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


# -- the journal: what the in-process broker accepted survives the process ----------------------


async def _journaled(path: Path, **options: float) -> MemoryTransport:
    transport = create_transport("memory://", data_dir=path)
    assert isinstance(transport, MemoryTransport)
    for name, value in options.items():
        setattr(transport, f"_{name}", value)
    await transport.start()
    return transport


async def _crash(transport: MemoryTransport) -> None:
    """What a killed process leaves: the journal as last committed, nothing flushed on the way out."""
    await stop_all(transport._subscriptions)
    assert transport._flusher is not None and transport._journal is not None
    transport._flusher.cancel()
    await transport._journal.close()


async def _collect(transport: MemoryTransport, group: str, count: int) -> list[int]:
    seen: list[int] = []
    done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.data["n"])
        if len(seen) >= count:
            done.set()

    await transport.subscribe("t", group, handle)
    await asyncio.wait_for(done.wait(), 5)
    return seen


async def test_what_was_published_before_a_crash_is_delivered_after_it(tmp_path: Path) -> None:
    first = await _journaled(tmp_path)
    await first.subscribe("t", "g", lambda envelope: asyncio.Event().wait())  # handles nothing in time
    await first.publish_many([Outgoing("t", _event(n)) for n in range(3)])
    await _crash(first)

    second = await _journaled(tmp_path)
    try:
        assert await _collect(second, "g", 3) == [0, 1, 2]
    finally:
        await second.close()


async def test_a_group_resumes_after_what_it_acknowledged(tmp_path: Path) -> None:
    first = await _journaled(tmp_path)
    for n in range(3):
        await first.publish("t", _event(n))
    assert await _collect(first, "g", 3) == [0, 1, 2]
    await asyncio.sleep(0)  # the third handler's return is its acknowledgement
    await first.close()

    second = await _journaled(tmp_path)
    try:
        await second.publish("t", _event(3))
        assert await _collect(second, "g", 1) == [3]
        assert await second.backlog("t", "g") == 0
    finally:
        await second.close()


async def test_handled_messages_leave_the_journal_and_offsets_go_on(tmp_path: Path) -> None:
    first = await _journaled(tmp_path, retention_seconds=0.0, commit_interval=0.01)
    handled = asyncio.create_task(_collect(first, "g", 5))
    await asyncio.sleep(0)  # subscribed: the group holds the messages until it handled them
    await first.publish_many([Outgoing("t", _event(n)) for n in range(5)])
    assert await handled == list(range(5))
    await first.close()
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as journal:
        assert journal.execute("SELECT count(*) FROM messages").fetchone() == (0,)

    second = await _journaled(tmp_path)
    try:
        await second.publish("t", _event(5))  # offset 5, not 0 again
        assert await _collect(second, "g", 1) == [5]
    finally:
        await second.close()
