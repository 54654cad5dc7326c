"""A process-local cache of encoded read responses (body bytes + ETag), bounded and time-limited.

Hot reads (a product by id) are served from memory; the entry expires after ``ttl`` seconds,
and a service clears it *after* committing a write (``after_commit``), never before: clearing
first would let a concurrent reader cache the old row again between the clear and the commit.
Other replicas see a write at the latest ``ttl`` seconds later, the bound this trades for speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from cachetools import TTLCache

from agora.platform.http.etag import EncodedJson


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0


class ResponseCache:
    def __init__(self, *, ttl: float, maxsize: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = ttl > 0 and maxsize > 0
        self._entries: TTLCache[Hashable, EncodedJson] = TTLCache(
            maxsize=max(maxsize, 1), ttl=max(ttl, 0.001), timer=clock
        )
        self.stats = CacheStats()
        self._inflight: dict[Hashable, asyncio.Future[EncodedJson]] = {}

    def get(self, key: Hashable) -> EncodedJson | None:
        if not self.enabled:
            return None
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return entry

    def put(self, key: Hashable, value: EncodedJson) -> EncodedJson:
        if self.enabled:
            self._entries[key] = value
        return value

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[EncodedJson]]) -> EncodedJson:
        """The cached value, or ``load()``'s, loading once however many requests miss together.

        When an entry expires under load every concurrent request misses at once; without this
        they would all query the database together (a stampede that showed up as the p99).
        Waiters share the loader's result or its exception (a 404 is a 404 for all of them).
        """
        if not self.enabled:
            return await load()
        hit = self.get(key)
        if hit is not None:
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[EncodedJson] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            future.set_result(self.put(key, value))
            return value
        finally:
            del self._inflight[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
