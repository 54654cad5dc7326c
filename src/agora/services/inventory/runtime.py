"""Inventory's composition root: ``start`` builds its runtime once, at start-up.

Inventory calls no other service and keeps no client: its runtime holds its settings, typed, and
makes the service object a request, the expiry sweep, a catalog event or a direct call works with
(each reservation held for the settings' default lifetime unless the request names one).
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
from agora.platform.peers import runtime_in
from agora.platform.service import ServiceContext
from agora.services.inventory.service import InventoryService
from agora.services.inventory.settings import InventorySettings


@dataclass(frozen=True)
class InventoryRuntime:
    settings: InventorySettings
    outbox: Outbox

    def service(self, session: AsyncSession) -> InventoryService:
        return InventoryService(session, events=self.outbox, default_ttl_seconds=self.settings.reservation_ttl_seconds)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[InventoryRuntime]:
    yield InventoryRuntime(settings=context.settings_as(InventorySettings), outbox=context.outbox)


def inventory_runtime(context: ServiceContext) -> InventoryRuntime:
    """The runtime ``start`` built, for the consumers, the sweep and the direct adapter."""
    return runtime_in(context, InventoryRuntime)


Runtime = Annotated[InventoryRuntime, Depends(runtime_of(InventoryRuntime))]
"""Inventory's runtime, for its endpoints."""
