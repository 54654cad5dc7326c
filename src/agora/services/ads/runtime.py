"""The ads' composition root: ``start`` builds its runtime once, at start-up.

Ads calls no other service and keeps no client: its runtime holds its settings, typed, and makes
the service object a request works with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.http.deps import runtime_of
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.ads.service import AdsService
from agora.services.ads.settings import AdsSettings


@dataclass(frozen=True)
class AdsRuntime:
    settings: AdsSettings
    outbox: Outbox

    def service(self, session: AsyncSession) -> AdsService:
        return AdsService(session, events=self.outbox)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[AdsRuntime]:
    yield AdsRuntime(settings=context.settings_as(AdsSettings), outbox=context.outbox)


Runtime = Annotated[AdsRuntime, Depends(runtime_of(AdsRuntime))]
"""The ads' runtime, for its endpoints."""
