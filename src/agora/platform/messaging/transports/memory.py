"""In-process transport for embedded mode and tests.

Each topic is a log with offsets; each consumer group keeps its position in that log, the
offsets it was handed but has not acknowledged, and a queue of those to deliver again (a handler
raised, or the subscription was stopped mid-handler), which go first to the next member of the
group. A group's *committed* offset is the lowest one it has not acknowledged: everything below
it was handled.

With a journal (``agora up`` keeps one at ``<data dir>/broker.db``) the in-process broker is as
durable as a networked one, which is what the outbox relay relies on when it marks a row
published: ``publish`` returns only once the message is committed to the journal, and after a
crash every group resumes from its committed offset, so a message published but not yet handled
is delivered on the next start. Committed offsets are written behind (at most
``commit_interval`` seconds late, in one transaction for every group): a crash may deliver again
a few messages that were already handled, which the consumers' inbox absorbs, as it does for
every broker. Without a journal (tests, one-off commands) nothing survives the process.

Messages every known group has handled are dropped once they are ``retention_seconds`` old (a
group that subscribes a little later still reads them from the start, as with
``auto.offset.reset=earliest``), and beyond ``retention`` messages per topic in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agora.platform.messaging.envelope import Envelope, EnvelopeError
from agora.platform.messaging.transports.base import Handler, Outgoing, Transport, stop_all
from agora.platform.messaging.transports.journal import Journal

log = logging.getLogger(__name__)

#: Messages kept per topic whatever the groups' progress (like a broker's size retention).
DEFAULT_RETENTION = 100_000
#: How long a message every known group has handled is kept for groups that subscribe later.
DEFAULT_RETENTION_SECONDS = 300.0
#: How late a group's committed offset may reach the journal.
DEFAULT_COMMIT_INTERVAL = 0.2


@dataclass
class _Group:
    position: int  # the next offset to hand out
    unacked: set[int] = field(default_factory=set)  # handed out, not acknowledged yet
    redeliver: deque[tuple[int, Envelope]] = field(default_factory=deque)
    saved: int = -1  # the committed offset as last written to the journal (-1: never)

    @property
    def committed(self) -> int:
        return min(self.unacked, default=self.position)


@dataclass
class _Topic:
    log: deque[tuple[Envelope, float]] = field(default_factory=deque)  # (message, published at)
    base: int = 0  # offset of log[0]
    saved_base: int = 0  # the base as last written to the journal
    groups: dict[str, _Group] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def end(self) -> int:
        return self.base + len(self.log)

    def append(self, envelope: Envelope, published_at: float) -> None:
        self.log.append((envelope, published_at))

    def wake(self) -> None:
        # Waiters hold the old event; replacing it lets the next wait block again.
        self.changed.set()
        self.changed = asyncio.Event()

    def take(self, group: _Group) -> tuple[int, Envelope] | None:
        if group.redeliver:
            return group.redeliver.popleft()
        if group.position < self.base:  # trimmed while the group lagged: skip what is gone
            group.position = self.base
        if group.position >= self.end:
            return None
        offset = group.position
        group.position += 1
        group.unacked.add(offset)
        return offset, self.log[offset - self.base][0]

    def backlog(self, group: _Group | None) -> int:
        """Messages ``group`` has not acknowledged (all retained ones for a group not seen yet)."""
        return self.end - (self.base if group is None else max(group.committed, self.base))

    def trim(self, now: float, retention: int, retention_seconds: float) -> None:
        floor = min((g.committed for g in self.groups.values()), default=self.end)
        handled_before = now - retention_seconds
        while self.log and (len(self.log) > retention or (self.base < floor and self.log[0][1] <= handled_before)):
            self.log.popleft()
            self.base += 1


class MemorySubscription:
    def __init__(self) -> None:
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        # The flag as well as the cancel: a handler may swallow a cancel (``asyncio.wait_for`` on
        # Python 3.11 does when its inner task has just finished), and the delivery loop must then
        # end after that handler instead of waiting for the next message, which at shutdown never
        # comes (``stop`` would never return).
        self.stopping = True
        if self.task is None:
            return
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # our caller's cancel, not the loop's end
                raise


class MemoryTransport(Transport):
    """Topics and groups in a dict, optionally journaled; one instance is a process's broker."""

    def __init__(
        self,
        *,
        journal: Path | None = None,
        retention: int = DEFAULT_RETENTION,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        redelivery_delay: float = 0.01,
        commit_interval: float = DEFAULT_COMMIT_INTERVAL,
    ) -> None:
        self._topics: dict[str, _Topic] = {}
        self._subscriptions: set[MemorySubscription] = set()
        self._retention = retention
        self._retention_seconds = retention_seconds
        self._redelivery_delay = redelivery_delay
        self._commit_interval = commit_interval
        self._journal = Journal(journal) if journal is not None else None
        self._publishing = asyncio.Lock()  # offsets are handed out in journal order
        self._dirty = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    @property
    def durable(self) -> bool:
        return self._journal is not None

    async def start(self) -> None:
        if self._journal is None or self._flusher is not None:
            return
        await self._journal.open()
        self._load(await self._journal.messages(), await self._journal.offsets())
        self._flusher = asyncio.create_task(self._flush_loop(), name="memory-broker-journal")

    async def ping(self) -> None:
        if self._journal is not None and self._flusher is None:
            raise RuntimeError("the in-process broker's journal is not open")

    async def close(self) -> None:
        await stop_all(self._subscriptions)
        if self._flusher is None or self._journal is None:
            return
        self._flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flusher
        self._flusher = None
        try:
            await self._flush()
        finally:
            await self._journal.close()

    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        await self.publish_many([Outgoing(topic, envelope, key)])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        # Shielded: once the journal holds a batch the logs must get it too, or a cancelled
        # publisher would leave offsets that the next publish hands out a second time.
        await asyncio.shield(self._publish(messages))

    async def _publish(self, messages: Sequence[Outgoing]) -> None:
        async with self._publishing:
            now = time.time()
            if self._journal is not None:
                ends: dict[str, int] = {}
                rows = []
                for message in messages:
                    offset = ends.setdefault(message.topic, self._topic(message.topic).end)
                    ends[message.topic] = offset + 1
                    rows.append((message.topic, offset, message.envelope.to_bytes(), now))
                await self._journal.append(rows)  # durable before anyone may act on it
            touched = {message.topic: self._topic(message.topic) for message in messages}
            for message in messages:
                touched[message.topic].append(message.envelope, now)
            for state in touched.values():
                state.trim(now, self._retention, self._retention_seconds)
                state.wake()

    async def subscribe(self, topic: str, group: str, handler: Handler) -> MemorySubscription:
        state = self._topic(topic)
        # A new group starts at the oldest retained message, like auto.offset.reset=earliest.
        members = state.groups.setdefault(group, _Group(position=state.base))
        self._dirty.set()  # a new group is journaled, so trimming waits for it after a restart
        subscription = MemorySubscription()
        task = asyncio.create_task(self._deliver(state, members, handler, subscription), name=f"memory:{topic}:{group}")
        subscription.task = task
        self._subscriptions.add(subscription)
        task.add_done_callback(lambda _: self._subscriptions.discard(subscription))
        return subscription

    async def backlog(self, topic: str, group: str) -> int:
        state = self._topics.get(topic)
        return 0 if state is None else state.backlog(state.groups.get(group))

    def _topic(self, name: str) -> _Topic:
        return self._topics.setdefault(name, _Topic())

    async def _deliver(self, topic: _Topic, group: _Group, handler: Handler, subscription: MemorySubscription) -> None:
        while not subscription.stopping:
            item = topic.take(group)
            if item is None:
                await topic.changed.wait()
                continue
            try:
                await handler(item[1])
            except asyncio.CancelledError:
                group.redeliver.appendleft(item)  # stopped mid-handler: not acknowledged
                topic.wake()
                raise
            except Exception:
                log.exception("handler failed; message will be redelivered", extra={"event_id": item[1].id})
                group.redeliver.append(item)
                await asyncio.sleep(self._redelivery_delay)
            else:
                group.unacked.discard(item[0])
                self._dirty.set()

    # -- the journal -----------------------------------------------------------------------------

    def _load(self, messages: list[tuple[str, int, bytes, float]], offsets: list[tuple[str, str, int]]) -> None:
        """Rebuilds the logs and the groups' positions from the journal (at start, before use)."""
        for topic, offset, payload, published_at in messages:
            state = self._topic(topic)
            if not state.log:
                state.base = state.saved_base = offset
            try:
                envelope = Envelope.from_bytes(payload)
            except EnvelopeError:  # cannot be delivered, but keeps its offset
                log.exception("the journal holds an unreadable message", extra={"topic": topic, "offset": offset})
                envelope = Envelope(type=f"{topic}.unreadable", source="agora/broker", data={})
            state.append(envelope, published_at)
        for topic, group, committed in offsets:
            state = self._topic(topic)
            if not state.log:  # everything was handled and trimmed: the log resumes after it
                state.base = state.saved_base = max(state.base, committed)
            state.groups[group] = _Group(position=max(committed, state.base), saved=committed)

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._commit_interval)  # gathers the acknowledgements meanwhile
            self._dirty.clear()
            try:
                await self._flush()
            except Exception:
                log.warning("in-process broker: could not write committed offsets; retrying", exc_info=True)
                self._dirty.set()

    async def _flush(self) -> None:
        assert self._journal is not None
        now = time.time()
        for state in self._topics.values():  # handled messages age out even when nothing is published
            state.trim(now, self._retention, self._retention_seconds)
        offsets = [
            (name, group_name, group.committed)
            for name, state in self._topics.items()
            for group_name, group in state.groups.items()
            if group.committed != group.saved
        ]
        trimmed = [(name, state.base) for name, state in self._topics.items() if state.base != state.saved_base]
        if not offsets and not trimmed:
            return
        await self._journal.save(offsets, trimmed)
        for name, group_name, committed in offsets:
            self._topics[name].groups[group_name].saved = committed
        for name, base in trimmed:
            self._topics[name].saved_base = base
