"""A process-local cache of encoded read responses (body bytes + ETag), bounded and time-limited.

Hot reads (a product by id) are served from memory; the entry expires after ``ttl`` seconds,
and a service clears it *after* committing a write (``after_commit``), never before: clearing
first would let a concurrent reader cache the old row again between the clear and the commit.
Other replicas see a write at the latest ``ttl`` seconds later, the bound this trades for speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
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

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
