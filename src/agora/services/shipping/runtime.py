"""Shipping's composition root: ``start`` builds its runtime once, at start-up.

Shipping calls no other service and keeps no client: its runtime holds its settings, typed, and
makes the service object each request works with.
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
from agora.services.shipping.service import ShippingService
from agora.services.shipping.settings import ShippingSettings


@dataclass(frozen=True)
class ShippingRuntime:
    settings: ShippingSettings
    outbox: Outbox

    def service(self, session: AsyncSession) -> ShippingService:
        return ShippingService(session, events=self.outbox)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[ShippingRuntime]:
    yield ShippingRuntime(settings=context.settings_as(ShippingSettings), outbox=context.outbox)


Runtime = Annotated[ShippingRuntime, Depends(runtime_of(ShippingRuntime))]
"""Shipping's runtime, for its endpoints."""
