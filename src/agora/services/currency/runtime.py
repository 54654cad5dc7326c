"""The currency's composition root: ``start`` builds its runtime once, at start-up.

The currency keeps nothing of its own beyond what the chassis built (no client, no provider): its
runtime holds its settings, typed, and makes the service object a request or the seed works with.
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
from agora.services.currency.service import CurrencyService
from agora.services.currency.settings import CurrencySettings


@dataclass(frozen=True)
class CurrencyRuntime:
    settings: CurrencySettings
    outbox: Outbox

    def service(self, session: AsyncSession) -> CurrencyService:
        return CurrencyService(session, events=self.outbox)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[CurrencyRuntime]:
    yield CurrencyRuntime(settings=context.settings_as(CurrencySettings), outbox=context.outbox)


Runtime = Annotated[CurrencyRuntime, Depends(runtime_of(CurrencyRuntime))]
"""The currency's runtime, for its endpoints."""
