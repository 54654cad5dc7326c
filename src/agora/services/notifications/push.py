"""Real-time push: the hub that hands a new notification to its user's open streams.

Each open ``GET /api/notifications/stream`` subscribes a bounded queue for its user. Publishing
goes through Redis pub/sub when ``AGORA_REDIS_URL`` is set (channel ``<prefix>push``), so a
notification stored by the process that consumed the event reaches streams held by any other
process; without Redis (embedded mode, one process) the hub delivers in memory. A stream whose
queue is full (a client that stopped reading) loses that message rather than slowing the rest:
the list endpoint remains the record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import structlog
from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)

open_streams = Gauge("agora_notifications_streams", "Open notification streams in this process.")


class LocalHub:
    """Delivers to the streams of this process."""

    def __init__(self, *, queue_size: int = 100) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self._queue_size = queue_size

    async def start(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any] | None]]:
        await self.start()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._queue_size)
        self._queues.setdefault(user_id, set()).add(queue)
        open_streams.inc()
        try:
            yield queue
        finally:
            open_streams.dec()
            queues = self._queues.get(user_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[user_id]

    def deliver(self, user_id: str, document: dict[str, Any]) -> int:
        """Hands ``document`` to this process's streams of ``user_id``; returns how many got it."""
        delivered = 0
        for queue in list(self._queues.get(user_id, ())):
            try:
                queue.put_nowait(document)
                delivered += 1
            except asyncio.QueueFull:
                log.warning("notification_stream_full", user_id=user_id)
        return delivered

    async def publish(self, user_id: str, document: dict[str, Any]) -> None:
        self.deliver(user_id, document)

    async def close(self) -> None:
        for queues in self._queues.values():
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)  # ends the stream


class RedisHub(LocalHub):
    """Publishes through Redis pub/sub; one listener per process delivers to its local streams."""

    def __init__(self, redis: Redis, *, channel: str, queue_size: int = 100) -> None:
        super().__init__(queue_size=queue_size)
        self._redis = redis
        self._channel = channel
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Subscribes to the channel (once); returns when Redis confirmed the subscription."""
        async with self._starting:
            if self._listener is not None:
                return
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._channel)
            while True:  # the confirmation: from here on, nothing published is missed
                message = await pubsub.get_message(timeout=5.0)
                if message is not None and message["type"] == "subscribe":
                    break
            self._pubsub = pubsub
            self._listener = asyncio.create_task(self._listen(pubsub), name="notifications:push-listener")

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("notification_push_listener_failed", exc_info=True)
                await asyncio.sleep(1.0)  # Redis away: back off, the pubsub reconnects on next read
                continue
            if message is None or message["type"] != "message":
                continue
            try:
                envelope = orjson.loads(message["data"])
                self.deliver(str(envelope["user_id"]), envelope["notification"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("notification_push_malformed")

    async def publish(self, user_id: str, document: dict[str, Any]) -> None:
        await self._redis.publish(self._channel, orjson.dumps({"user_id": user_id, "notification": document}))

    async def close(self) -> None:
        await super().close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await pubsub.aclose()
