"""What a running media service keeps besides its database, each built on first use and closed at
shutdown: the object store, and the runtime holding the decode pool (:mod:`.decoding`), the
per-user upload rate limit and the demo pictures' artist (:mod:`.artist`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from agora.platform.kept import close_kept, kept
from agora.platform.ratelimit import UserRateLimit, limits_storage_url
from agora.services.media.artist import DemoArtist
from agora.services.media.decoding import DecodePool
from agora.services.media.service import MediaService
from agora.services.media.settings import MediaSettings
from agora.services.media.storage import ObjectStore, create_store

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext
    from agora.platform.settings import PlatformSettings

_STORE = "media.store"
_RUNTIME = "media.runtime"


@dataclass
class Runtime:
    pool: DecodePool
    artist: DemoArtist
    settings: MediaSettings
    platform: PlatformSettings
    _upload_rate: UserRateLimit | None = None

    @property
    def upload_rate(self) -> UserRateLimit:
        """Made by the first upload: its storage (Redis through redis-py when configured) is not
        loaded by a media service that only draws the demo pictures or serves images."""
        if self._upload_rate is None:
            settings = self.settings
            self._upload_rate = UserRateLimit(
                limits_storage_url(settings.rate_limit_storage_url, self.platform.redis_url),
                rate=settings.upload_rate,
                window=settings.upload_rate_window_seconds,
                namespace="media-uploads",
                key_prefix="agora-media-rate",
            )
        return self._upload_rate

    async def close(self) -> None:
        await self.artist.close()
        await self.pool.close()


def settings_of(context: ServiceContext) -> MediaSettings:
    return cast(MediaSettings, context.settings)


def store_of(context: ServiceContext) -> ObjectStore:
    return kept(context, _STORE, lambda: create_store(settings_of(context), context.platform))


def _build_runtime(settings: MediaSettings, platform: PlatformSettings) -> Runtime:
    pool = DecodePool(
        threads=settings.decode_threads,
        budget_pixels=settings.decode_budget_pixels,
        queue=settings.decode_queue,
        wait_seconds=settings.decode_wait_seconds,
    )
    return Runtime(pool, DemoArtist(), settings, platform)


def runtime_of(context: ServiceContext) -> Runtime:
    return kept(context, _RUNTIME, lambda: _build_runtime(settings_of(context), context.platform))


def media_service(context: ServiceContext, session: AsyncSession) -> MediaService:
    runtime = runtime_of(context)
    return MediaService(
        session, store=store_of(context), pool=runtime.pool, settings=settings_of(context), artist=runtime.artist
    )


async def close_state(context: ServiceContext) -> None:
    for key in (_STORE, _RUNTIME):
        await close_kept(context, key)
