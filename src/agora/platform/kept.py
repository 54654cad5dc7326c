"""Objects a service builds on first use and keeps on its context until shutdown.

Notifications and support each keep a small runtime (a Redis client, a fan-out, a cache or a rate
limiter) in ``context.extras``: built lazily (a consumer or a request may need it first), closed
by the spec's ``on_shutdown``; ``/readyz`` asks the platform's Redis itself. This is that pattern
once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from agora.platform import redis_channel
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings

if TYPE_CHECKING:  # redis-py is imported on the first client built (~7 MiB): see redis_channel
    from redis.asyncio import Redis


class Closable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


def kept(context: ServiceContext, key: str, build: Callable[[], T]) -> T:
    """The object kept under ``key``, built by ``build`` the first time it is asked for."""
    found: T | None = context.extras.get(key)
    if found is None:
        found = build()
        context.extras[key] = found
    return found


async def close_kept(context: ServiceContext, key: str) -> None:
    """Closes and forgets the object kept under ``key`` (nothing when it was never built)."""
    found: Closable | None = context.extras.pop(key, None)
    if found is not None:
        await found.close()


def redis_for(platform: PlatformSettings) -> Redis | None:
    """A client of ``AGORA_REDIS_URL`` with the chassis's timeouts, or None when it is not set."""
    if not platform.redis_url:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(platform.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)


def redis_readiness(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    """``/readyz``'s ``redis`` check when the platform has a Redis; none otherwise. It pings on a
    connection of its own, so answering ``/readyz`` builds no runtime and imports no redis-py."""
    url = context.platform.redis_url
    if not url:
        return {}

    async def redis_ping() -> None:
        await redis_channel.ping(url)

    return {"redis": redis_ping}
