"""The recent notifications of each user: the first page of the list, read before the database.

One entry per user: up to ``recent_size`` notification documents (newest first), whether more
exist beyond them, and the unread count. In Redis (``AGORA_REDIS_URL`` set) it is a list
``<prefix>recent:<user>`` plus ``<prefix>recent:<user>:meta``, written together in a MULTI and
expiring after ``recent_ttl_seconds``; else an in-process LRU of ``recent_users`` entries.

Every change to a user's notifications (a new one, read, read-all) drops the entry after the
change committed, and the next read refills it from the database: the cache never holds a state
the database did not have. A Redis that is down costs the cache, not the read (logged, served
from the database).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog

if TYPE_CHECKING:  # redis-py comes with the client (see agora.platform.first_use.redis_for)
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Recent:
    items: list[dict[str, Any]]
    more: bool
    """Whether the user has notifications older than ``items``."""
    unread_count: int


class RecentCache(Protocol):
    async def get(self, user_id: str) -> Recent | None: ...
    async def put(self, user_id: str, recent: Recent) -> None: ...
    async def invalidate(self, user_id: str) -> None: ...
    async def close(self) -> None: ...


class MemoryRecent:
    def __init__(self, *, max_users: int) -> None:
        self._entries: OrderedDict[str, Recent] = OrderedDict()
        self._max = max_users

    async def get(self, user_id: str) -> Recent | None:
        entry = self._entries.get(user_id)
        if entry is not None:
            self._entries.move_to_end(user_id)
        return entry

    async def put(self, user_id: str, recent: Recent) -> None:
        self._entries[user_id] = recent
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def invalidate(self, user_id: str) -> None:
        self._entries.pop(user_id, None)

    async def close(self) -> None:
        self._entries.clear()


class RedisRecent:
    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        from redis.exceptions import RedisError

        self._failed: type[Exception] = RedisError

    def _keys(self, user_id: str) -> tuple[str, str]:
        key = f"{self._prefix}recent:{user_id}"
        return key, f"{key}:meta"

    async def get(self, user_id: str) -> Recent | None:
        items_key, meta_key = self._keys(user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(meta_key)
                pipe.lrange(items_key, 0, -1)
                meta, items = await pipe.execute()
        except self._failed:
            log.warning("notifications_cache_unavailable", exc_info=True)
            return None
        if meta is None:
            return None
        facts = orjson.loads(meta)
        return Recent([orjson.loads(item) for item in items], bool(facts["more"]), int(facts["unread_count"]))

    async def put(self, user_id: str, recent: Recent) -> None:
        items_key, meta_key = self._keys(user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(items_key, meta_key)
                if recent.items:
                    pipe.rpush(items_key, *(orjson.dumps(item) for item in recent.items))
                    pipe.expire(items_key, self._ttl)
                meta = {"more": recent.more, "unread_count": recent.unread_count}
                pipe.set(meta_key, orjson.dumps(meta), ex=self._ttl)
                await pipe.execute()
        except self._failed:
            log.warning("notifications_cache_unavailable", exc_info=True)

    async def invalidate(self, user_id: str) -> None:
        try:
            await self._redis.delete(*self._keys(user_id))
        except self._failed:
            log.warning("notifications_cache_unavailable", exc_info=True)

    async def close(self) -> None:
        return None  # the client belongs to the service's wiring, which closes it
