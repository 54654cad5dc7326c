"""Real-time push: the hub that hands a new notification to its user's open streams.

The hub is the chassis' fan-out (:mod:`agora.platform.fanout`) keyed by user id: each open
``GET /api/notifications/stream`` subscribes a bounded queue for its user. Publishing goes through
Redis pub/sub when ``AGORA_REDIS_URL`` is set (channel ``<prefix>push``), so a notification stored
by the process that consumed the event reaches streams held by any other process; without Redis
(embedded mode, one process) the hub delivers in memory. A stream whose queue is full (a client
that stopped reading) loses that message rather than slowing the rest: the list endpoint remains
the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Gauge

from agora.platform.fanout import LocalFanout, RedisFanout

if TYPE_CHECKING:
    from redis.asyncio import Redis

open_streams = Gauge("agora_notifications_streams", "Open notification streams in this process.")

NAME = "notifications:push"


class LocalHub(LocalFanout):
    """Delivers to the streams of this process (topic = user id)."""

    def __init__(self, *, queue_size: int = 100) -> None:
        super().__init__(queue_size=queue_size, gauge=open_streams, name=NAME)


class RedisHub(RedisFanout):
    """Publishes through Redis pub/sub; one listener per process delivers to its local streams."""

    def __init__(self, redis: Redis, *, channel: str, queue_size: int = 100) -> None:
        super().__init__(redis, channel=channel, queue_size=queue_size, gauge=open_streams, name=NAME)
