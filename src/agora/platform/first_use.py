"""What a service's runtime builds on first use, typed, and the platform's Redis as redis-py.

A runtime (``spec.start``) is built at start-up, but some of what it holds should not be:
redis-py costs a process ~7 MiB resident and ~95 modules once imported, which a replica that has
served no stream, no chat and no cached page does without (docs/performance.md, "Footprint").
Such a field is an :class:`OnFirstUse` of its type: built by the first caller, closed by ``start``
after its ``yield`` when it was built at all. ``/readyz`` asks the platform's Redis through
:func:`redis_readiness`, which pings without redis-py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

from agora.platform import redis_channel
from agora.platform.imports import import_redis
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings

if TYPE_CHECKING:  # redis-py is imported with the first client built (see redis_for)
    from redis.asyncio import Redis

T = TypeVar("T")


class OnFirstUse(Generic[T]):
    """``build()`` the first time the value is asked for (``get``), the same value after that;
    ``close`` closes it with ``closer`` (if any) when it was built, and forgets it."""

    def __init__(self, build: Callable[[], T], closer: Callable[[T], Awaitable[None]] | None = None) -> None:
        self._build = build
        self._closer = closer
        self._value: T | None = None

    @property
    def built(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            self._value = self._build()
        return self._value

    async def close(self) -> None:
        value, self._value = self._value, None
        if value is not None and self._closer is not None:
            await self._closer(value)


def redis_for(platform: PlatformSettings) -> Redis | None:
    """A client of ``AGORA_REDIS_URL`` with the chassis's timeouts, or None when it is not set."""
    if not platform.redis_url:
        return None
    client: Redis = import_redis().Redis.from_url(
        platform.redis_url,
        socket_timeout=redis_channel.TIMEOUT_SECONDS,
        socket_connect_timeout=redis_channel.TIMEOUT_SECONDS,
    )
    return client


def redis_readiness(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    """``/readyz``'s ``redis`` check when the platform has a Redis; none otherwise. It pings on a
    connection of its own, so answering ``/readyz`` builds nothing and imports no redis-py."""
    url = context.platform.redis_url
    if not url:
        return {}

    async def redis_ping() -> None:
        await redis_channel.ping(url)

    return {"redis": redis_ping}


__all__ = ["OnFirstUse", "redis_for", "redis_readiness"]
