"""The catalog's composition root: ``start`` builds its runtime once, at start-up.

The catalog keeps no client or cache of its own beyond what the chassis built: its runtime holds
its settings, typed, makes the service object a request works with, and holds media's port, which
checks a product's media images (:mod:`.media_refs`; the adapter chosen by mode, any HTTP client
made on the first call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.ports import MediaPort
from agora.platform.http.deps import runtime_of
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.catalog.media_refs import check_media_refs, media_port
from agora.services.catalog.service import CatalogService
from agora.services.catalog.settings import CatalogSettings


@dataclass(frozen=True)
class CatalogRuntime:
    settings: CatalogSettings
    outbox: Outbox
    media: MediaPort

    def service(self, session: AsyncSession, *, include_inactive: bool = False) -> CatalogService:
        return CatalogService(session, events=self.outbox, include_inactive=include_inactive)

    async def check_images(self, images: Sequence[str]) -> None:
        """A 422 naming the entry for a media id media does not hold as a product image (503 when
        media cannot be asked); nothing to ask when no entry is a media id."""
        await check_media_refs(self.media, images)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[CatalogRuntime]:
    yield CatalogRuntime(
        settings=context.settings_as(CatalogSettings), outbox=context.outbox, media=media_port(context)
    )


Runtime = Annotated[CatalogRuntime, Depends(runtime_of(CatalogRuntime))]
"""The catalog's runtime, for its endpoints."""
