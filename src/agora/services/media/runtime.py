"""Media's composition root: ``start`` builds its runtime once, at start-up, and closes it at shutdown.

The runtime holds what media keeps besides its database: its settings, typed; the object store
(:mod:`.storage`: a local directory, or an S3 bucket whose client is opened on the first call);
the decode pool (:mod:`.decoding`: its threads start with the first decode); the demo pictures'
artist (:mod:`.artist`: its child process starts with the first drawing); and the per-user
upload rate limit, made by the first upload (an :class:`~agora.platform.first_use.OnFirstUse`:
its storage, Redis through coredis when configured, is not loaded by a media service that only
serves images or draws the demo pictures). It makes the :class:`~.service.MediaService` a
request, a catalog event or a direct call works with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.first_use import OnFirstUse
from agora.platform.http.deps import runtime_of
from agora.platform.peers import runtime_in
from agora.platform.ratelimit import UserRateLimit, limits_storage_url
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.services.media.artist import DemoArtist
from agora.services.media.decoding import DecodePool
from agora.services.media.service import MediaService
from agora.services.media.settings import MediaSettings
from agora.services.media.storage import ObjectStore, create_store


def _upload_rate(settings: MediaSettings, platform: PlatformSettings) -> UserRateLimit:
    return UserRateLimit(
        limits_storage_url(settings.rate_limit_storage_url, platform.redis_url),
        rate=settings.upload_rate,
        window=settings.upload_rate_window_seconds,
        namespace="media-uploads",
        key_prefix="agora-media-rate",
    )


@dataclass(frozen=True)
class MediaRuntime:
    settings: MediaSettings
    store: ObjectStore
    pool: DecodePool
    artist: DemoArtist
    upload_rate: OnFirstUse[UserRateLimit] = field(compare=False)

    def service(self, session: AsyncSession) -> MediaService:
        return MediaService(session, store=self.store, pool=self.pool, settings=self.settings, artist=self.artist)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[MediaRuntime]:
    settings = context.settings_as(MediaSettings)
    async with AsyncExitStack() as stack:
        pool = DecodePool(
            threads=settings.decode_threads,
            budget_pixels=settings.decode_budget_pixels,
            queue=settings.decode_queue,
            wait_seconds=settings.decode_wait_seconds,
        )
        stack.push_async_callback(pool.close)
        artist = DemoArtist()
        stack.push_async_callback(artist.close)
        store = create_store(settings, context.platform)
        stack.push_async_callback(store.close)
        upload_rate = OnFirstUse(lambda: _upload_rate(settings, context.platform))
        yield MediaRuntime(settings=settings, store=store, pool=pool, artist=artist, upload_rate=upload_rate)


def media_runtime(context: ServiceContext) -> MediaRuntime:
    """The runtime ``start`` built, for the consumers, readiness, ``agora media-gc`` and the direct adapter."""
    return runtime_in(context, MediaRuntime)


def store_of(context: ServiceContext) -> ObjectStore:
    """The running media service's object store."""
    return media_runtime(context).store


Runtime = Annotated[MediaRuntime, Depends(runtime_of(MediaRuntime))]
"""Media's runtime, for its endpoints."""
