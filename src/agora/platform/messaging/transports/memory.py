"""In-process transport for embedded mode and tests.

Each topic is a log; each consumer group keeps its position in that log plus a queue of
messages that were handed out but not acknowledged (a handler raised, or the subscription was
stopped mid-handler). Those are delivered first to the next member of the group, which gives the
same at-least-once behaviour as the networked brokers for a consumer stopped and restarted
within the process. Nothing survives the process: embedded mode relies on the outbox, which
keeps unpublished events in the database, and on re-publishing being harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from agora.platform.messaging.envelope import Envelope
from agora.platform.messaging.transports.base import Handler, Transport, stop_all

log = logging.getLogger(__name__)

#: Messages kept per topic for groups that have not subscribed yet (like a broker's retention).
DEFAULT_RETENTION = 100_000


@dataclass
class _Group:
    position: int
    redeliver: deque[tuple[int, Envelope]] = field(default_factory=deque)


@dataclass
class _Topic:
    log: deque[Envelope] = field(default_factory=deque)
    base: int = 0  # offset of log[0]
    groups: dict[str, _Group] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def end(self) -> int:
        return self.base + len(self.log)

    def append(self, envelope: Envelope, retention: int) -> None:
        self.log.append(envelope)
        self._trim(retention)
        self.wake()

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
        return offset, self.log[offset - self.base]

    def _trim(self, retention: int) -> None:
        # Keep what a registered group still has to read, bounded by ``retention``.
        floor = min((g.position for g in self.groups.values()), default=self.base)
        while self.log and (self.base < floor or len(self.log) > retention):
            self.log.popleft()
            self.base += 1


class MemorySubscription:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class MemoryTransport(Transport):
    """Topics and groups in a dict; one instance is the whole broker of a process."""

    def __init__(self, *, retention: int = DEFAULT_RETENTION, redelivery_delay: float = 0.01) -> None:
        self._topics: dict[str, _Topic] = {}
        self._subscriptions: set[MemorySubscription] = set()
        self._retention = retention
        self._redelivery_delay = redelivery_delay

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        await stop_all(self._subscriptions)

    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        self._topic(topic).append(envelope, self._retention)

    async def subscribe(self, topic: str, group: str, handler: Handler) -> MemorySubscription:
        state = self._topic(topic)
        # A new group starts at the oldest retained message, like auto.offset.reset=earliest.
        members = state.groups.setdefault(group, _Group(position=state.base))
        task = asyncio.create_task(self._deliver(state, members, handler), name=f"memory:{topic}:{group}")
        subscription = MemorySubscription(task)
        self._subscriptions.add(subscription)
        task.add_done_callback(lambda _: self._subscriptions.discard(subscription))
        return subscription

    def _topic(self, name: str) -> _Topic:
        return self._topics.setdefault(name, _Topic())

    async def _deliver(self, topic: _Topic, group: _Group, handler: Handler) -> None:
        while True:
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
