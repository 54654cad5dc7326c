"""Real-time fan-out: hand a document to every open stream (SSE, WebSocket) subscribed to a topic.

A topic is any string a service chooses (a user id, ``conversation:<id>``, ``inbox``). Each open
stream subscribes a bounded queue to its topics; :meth:`LocalFanout.publish` hands a document to
the queues of that topic.

* :class:`LocalFanout` delivers within this process (embedded mode: one process holds every
  stream).
* :class:`RedisFanout` publishes through Redis pub/sub on ONE channel per service (the channel
  carries the topic in each message; name it with :func:`channel_name`, which prefixes the
  service name, so two services never see each other's traffic). Each process runs one
  listener that delivers to its own queues, so a document published by any replica reaches the
  streams held by every replica.

A queue that is full (a client that stopped reading) loses that document rather than slowing
the others down: the service's list endpoints remain the record. ``None`` in a queue means the
fan-out is closing (the service shuts down) and the stream should end.

Subscribing to a :class:`RedisFanout` returns only once Redis confirmed the channel
subscription, so a caller that subscribes and then publishes (or tells its client "ready")
never misses what is published after that point.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from agora.platform import stopping

if TYPE_CHECKING:  # the caller hands the client in; importing redis-py here would load it in every service
    from prometheus_client import Gauge
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)

Document = dict[str, Any]
Subscription = asyncio.Queue[Document | None]

#: How long the first subscription waits for Redis to confirm the channel subscription.
CONFIRM_TIMEOUT_SECONDS = 5.0


def channel_name(service: str, prefix: str = "agora") -> str:
    """The pub/sub channel of ``service``: ``<prefix>:<service>:fanout``."""
    return f"{prefix}:{service}:fanout"


class LocalFanout:
    """Delivers to the subscriptions of this process."""

    def __init__(self, *, queue_size: int = 100, gauge: Gauge | None = None, name: str = "fanout") -> None:
        self._queues: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        self._gauge = gauge
        self.name = name

    async def start(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        """A bounded queue that receives every document published to ``topic`` until exit."""
        await self.start()
        stopping.on_stopping(self.end_streams)
        queue: Subscription = asyncio.Queue(self._queue_size)
        self._queues.setdefault(topic, set()).add(queue)
        if self._gauge is not None:
            self._gauge.inc()
        try:
            yield queue
        finally:
            if self._gauge is not None:
                self._gauge.dec()
            queues = self._queues.get(topic)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[topic]

    def subscribers(self, topic: str) -> int:
        """How many subscriptions of this process listen to ``topic``."""
        return len(self._queues.get(topic, ()))

    def deliver(self, topic: str, document: Document) -> int:
        """Hands ``document`` to this process's subscriptions of ``topic``; returns how many got it."""
        delivered = 0
        for queue in list(self._queues.get(topic, ())):
            try:
                queue.put_nowait(document)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("fanout_queue_full", fanout=self.name, topic=topic)
        return delivered

    async def publish(self, topic: str, document: Document) -> None:
        self.deliver(topic, document)

    def end_streams(self) -> None:
        """Every subscription receives None: the streams reading them end (shutdown)."""
        for queues in self._queues.values():
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)  # ends the stream

    async def close(self) -> None:
        stopping.forget(self.end_streams)
        self.end_streams()


class RedisFanout(LocalFanout):
    """Publishes through Redis pub/sub; one listener per process delivers to its local queues."""

    def __init__(
        self,
        redis: Redis,
        *,
        channel: str,
        queue_size: int = 100,
        gauge: Gauge | None = None,
        name: str = "fanout",
    ) -> None:
        super().__init__(queue_size=queue_size, gauge=gauge, name=name)
        self._redis = redis
        self._channel = channel
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def channel(self) -> str:
        return self._channel

    async def start(self) -> None:
        """Subscribes to the channel (once); returns when Redis confirmed the subscription."""
        async with self._starting:
            if self._listener is not None:
                return
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._channel)
            while True:  # the confirmation: from here on, nothing published is missed
                message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    break
            self._pubsub = pubsub
            self._listener = asyncio.create_task(self._listen(pubsub), name=f"{self.name}:listener")

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("fanout_listener_failed", fanout=self.name, exc_info=True)
                await asyncio.sleep(1.0)  # Redis away: back off, the pubsub reconnects on next read
                continue
            if message is None or message["type"] != "message":
                continue
            try:
                envelope = orjson.loads(message["data"])
                self.deliver(str(envelope["topic"]), envelope["document"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("fanout_malformed", fanout=self.name)

    async def publish(self, topic: str, document: Document) -> None:
        await self._redis.publish(self._channel, orjson.dumps({"topic": topic, "document": document}))

    async def close(self) -> None:
        await super().close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


def create_fanout(
    redis: Redis | None, *, channel: str, queue_size: int = 100, gauge: Gauge | None = None, name: str = "fanout"
) -> LocalFanout:
    """Redis pub/sub on ``channel`` when a client is given (distributed), else in-process."""
    if redis is None:
        return LocalFanout(queue_size=queue_size, gauge=gauge, name=name)
    return RedisFanout(redis, channel=channel, queue_size=queue_size, gauge=gauge, name=name)


__all__ = [
    "Document",
    "LocalFanout",
    "RedisFanout",
    "Subscription",
    "channel_name",
    "create_fanout",
]
