"""Objects a service builds on first use and keeps on its context until shutdown.

Notifications and support each keep a small runtime (a Redis client, a fan-out, a cache or a rate
limiter) in ``context.extras``: built lazily (a consumer or a request may need it first), closed
by the spec's ``on_shutdown``, and the Redis it holds asked by ``/readyz``. This is that pattern
once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings


class Closable(Protocol):
    async def close(self) -> None: ...


class HasRedis(Closable, Protocol):
    @property
    def redis(self) -> Redis | None: ...


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
    return Redis.from_url(platform.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)


def redis_readiness(
    context: ServiceContext, runtime: Callable[[], HasRedis]
) -> Mapping[str, Callable[[], Awaitable[object]]]:
    """``/readyz``'s ``redis`` check when the platform has a Redis; none otherwise."""
    if not context.platform.redis_url:
        return {}

    async def redis_ping() -> object:
        redis = runtime().redis
        if redis is None:
            raise RuntimeError("no Redis client although AGORA_REDIS_URL is set")
        return await redis.ping()

    return {"redis": redis_ping}
