"""Per-user rate limits over a moving window (the ``limits`` library), shared by the services.

Counters live where the service says (``async+redis://...``), else in the platform's Redis when
``AGORA_REDIS_URL`` is set (so replicas share them), else in process memory (embedded mode). A
full window is a 429 with ``Retry-After`` (until the oldest hit leaves it); a storage that does
not answer is a retryable 503, never a request let through unlimited.
"""

from __future__ import annotations

import math
import time
from typing import Any

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from agora.platform.http.problems import ProblemError, ServiceUnavailable
from agora.platform.limits_storage import limits_storage

log = structlog.get_logger(__name__)

MEMORY = "async+memory://"


def limits_storage_url(configured: str | None, redis_url: str | None) -> str:
    """Where the counters live: the service's own setting, else the platform's Redis, else memory."""
    if configured:
        return configured
    if redis_url:
        return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    return MEMORY


class RateLimited(ProblemError):
    """429 problem with ``Retry-After`` (whole seconds, at least 1) and ``retry_after`` in the body."""

    status = 429

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(
            detail,
            extra={"retry_after": retry_after, **extra},
            headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
        )
        self.retry_after = retry_after


class UserRateLimit:
    """At most ``rate`` hits per key (a user id) in a moving window of ``window`` seconds."""

    def __init__(self, url: str, *, rate: int, window: int, namespace: str, key_prefix: str) -> None:
        options: dict[str, str] = {} if url.startswith("async+memory") else {"key_prefix": key_prefix}
        self._limiter = MovingWindowRateLimiter(limits_storage(url, **options))
        self._item = RateLimitItemPerSecond(rate, window, namespace=namespace)
        self.rate = rate
        self.window = window

    async def hit(self, key: str, *, unavailable: str) -> int | None:
        """Takes one slot of ``key``: None when taken, else the seconds until one frees up.

        A storage failure is a 503 whose detail is ``unavailable`` (what the caller cannot do now).
        """
        try:
            if await self._limiter.hit(self._item, key):
                return None
            stats = await self._limiter.get_window_stats(self._item, key)
        except Exception as exc:  # the storages' own errors (coredis, memory) share no base class
            log.warning("rate_limit_unavailable", namespace=self._item.namespace, error=type(exc).__name__)
            raise ServiceUnavailable(unavailable, headers={"Retry-After": "1"}) from None
        return max(1, math.ceil(stats.reset_time - time.time()))


__all__ = ["MEMORY", "RateLimited", "UserRateLimit", "limits_storage_url"]
