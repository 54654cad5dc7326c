"""What one running notifications service holds besides its database: the recent cache, the push
hub, the mailer, and the Redis client behind the first two when ``AGORA_REDIS_URL`` is set.

Built once per service context (lazily, on first use) and closed by the spec's ``on_shutdown``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from agora.contracts.http import HttpIdentity
from agora.contracts.ports import IdentityPort
from agora.platform.connections import ConnectionLimiter
from agora.platform.kept import close_kept, kept, redis_for, redis_readiness
from agora.platform.peers import port_of
from agora.platform.tasks import BackgroundWork
from agora.services.notifications.cache import MemoryRecent, RecentCache, RedisRecent
from agora.services.notifications.mailer import Mailer
from agora.services.notifications.push import LocalHub, RedisHub
from agora.services.notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

_RUNTIME = "notifications.runtime"


@dataclass
class Runtime:
    settings: NotificationsSettings
    cache: RecentCache
    hub: LocalHub | RedisHub
    mailer: Mailer
    redis: Redis | None
    background: BackgroundWork = field(default_factory=BackgroundWork)
    streams: ConnectionLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.streams = ConnectionLimiter(self.settings.stream_max_per_user, self.settings.stream_max_total)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs ``work`` in the background, holding a reference until it ends."""
        self.background.spawn(work)

    async def settled(self) -> None:
        """Returns once the after-commit work spawned so far has run (tests, graceful shutdown)."""
        await self.background.settled()

    async def close(self) -> None:
        await self.background.cancel()
        await self.hub.close()
        await self.mailer.close()
        await self.cache.close()
        if self.redis is not None:
            await self.redis.aclose()


def settings_of(context: ServiceContext) -> NotificationsSettings:
    settings = context.settings
    assert isinstance(settings, NotificationsSettings)
    return settings


def runtime_of(context: ServiceContext) -> Runtime:
    return kept(context, _RUNTIME, lambda: _build_runtime(context))


def _build_runtime(context: ServiceContext) -> Runtime:
    settings = settings_of(context)
    redis = redis_for(context.platform)
    cache: RecentCache
    hub: LocalHub | RedisHub
    if redis is not None:
        cache = RedisRecent(redis, prefix=settings.redis_prefix, ttl_seconds=settings.recent_ttl_seconds)
        hub = RedisHub(redis, channel=f"{settings.redis_prefix}push", queue_size=settings.stream_queue_size)
    else:
        cache = MemoryRecent(max_users=settings.recent_users)
        hub = LocalHub(queue_size=settings.stream_queue_size)
    identity = port_of(context, "identity", IdentityPort, HttpIdentity)
    mailer = Mailer(context.sessions, settings, identity=identity, mailbox=context.platform.data_dir / "mailbox")
    return Runtime(settings, cache, hub, mailer, redis)


async def close_runtime(context: ServiceContext) -> None:
    await close_kept(context, _RUNTIME)


def readiness_checks(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    return redis_readiness(context)
