"""Notifications' composition root: ``start`` builds its runtime once, at start-up, and closes it.

What one running notifications service holds besides its database: the mailer (with identity's
port for the recipients), the recent cache and the push hub, the Redis client behind the last two
when ``AGORA_REDIS_URL`` is set, the cap on open streams and the after-commit work. The cache and
the hub are built on first use (:class:`~agora.platform.first_use.OnFirstUse`), so a replica
whose first work is the mail sweep opens no Redis client for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from agora.contracts.http import HttpIdentity
from agora.contracts.ports import IdentityPort
from agora.platform.connections import ConnectionLimiter
from agora.platform.first_use import OnFirstUse, redis_for
from agora.platform.http.deps import runtime_of
from agora.platform.peers import port_of, runtime_in
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.platform.tasks import BackgroundWork
from agora.services.notifications.cache import MemoryRecent, RecentCache, RedisRecent
from agora.services.notifications.mailer import Mailer
from agora.services.notifications.push import LocalHub, RedisHub
from agora.services.notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Stores:
    """The recent cache and the push hub, on one Redis client when the platform has a Redis."""

    cache: RecentCache
    hub: LocalHub | RedisHub
    redis: Redis | None

    async def close(self) -> None:
        await self.hub.close()
        await self.cache.close()
        if self.redis is not None:
            await self.redis.aclose()


def build_stores(settings: NotificationsSettings, platform: PlatformSettings) -> Stores:
    redis = redis_for(platform)
    if redis is None:
        return Stores(
            MemoryRecent(max_users=settings.recent_users), LocalHub(queue_size=settings.stream_queue_size), None
        )
    cache = RedisRecent(redis, prefix=settings.redis_prefix, ttl_seconds=settings.recent_ttl_seconds)
    hub = RedisHub(redis, channel=f"{settings.redis_prefix}push", queue_size=settings.stream_queue_size)
    return Stores(cache, hub, redis)


@dataclass(frozen=True)
class NotificationsRuntime:
    settings: NotificationsSettings
    mailer: Mailer
    stores: OnFirstUse[Stores]
    """The cache and the hub, built by the first read, write or stream that needs them."""
    streams: ConnectionLimiter
    """Open notification streams of this process, per user and in all."""
    background: BackgroundWork
    """After-commit work (invalidations, pushes): awaited by tests, cancelled at shutdown."""

    @property
    def cache(self) -> RecentCache:
        return self.stores.get().cache

    @property
    def hub(self) -> LocalHub | RedisHub:
        return self.stores.get().hub

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Runs ``work`` in the background, holding a reference until it ends."""
        self.background.spawn(work)

    async def settled(self) -> None:
        """Returns once the after-commit work spawned so far has run (tests, graceful shutdown)."""
        await self.background.settled()


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[NotificationsRuntime]:
    settings = context.settings_as(NotificationsSettings)
    platform = context.platform
    identity = port_of(context, "identity", IdentityPort, HttpIdentity)
    mailer = Mailer(context.sessions, settings, identity=identity, mailbox=platform.data_dir / "mailbox")
    runtime = NotificationsRuntime(
        settings=settings,
        mailer=mailer,
        stores=OnFirstUse(lambda: build_stores(settings, platform), Stores.close),
        streams=ConnectionLimiter(settings.stream_max_per_user, settings.stream_max_total),
        background=BackgroundWork(),
    )
    try:
        yield runtime
    finally:
        await runtime.background.cancel()
        await runtime.stores.close()
        await mailer.close()


def notifications_runtime(context: ServiceContext) -> NotificationsRuntime:
    """The runtime ``start`` built, for the consumers and the periodic task."""
    return runtime_in(context, NotificationsRuntime)


Runtime = Annotated[NotificationsRuntime, Depends(runtime_of(NotificationsRuntime))]
"""Notifications' runtime, for its endpoints."""
