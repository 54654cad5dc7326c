"""Inventory's background work: the expiry sweep, so no reservation holds stock forever.

Every ``sweep_interval_seconds`` the sweep expires held reservations whose ``expires_at`` has
passed, one transaction per batch. It is safe with several replicas sweeping at once: each
batch locks its rows with ``SKIP LOCKED`` (replicas take disjoint batches) and each reservation
moves with a conditional UPDATE on its status (a reservation committed or released meanwhile
is left alone), so a reservation is given back exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.tasks import PeriodicTask
from agora.services.inventory import metrics
from agora.services.inventory.runtime import inventory_runtime
from agora.services.inventory.settings import InventorySettings

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)

SWEEP_TASK = "inventory.expire_reservations"


async def release_expired(
    context: ServiceContext,
    *,
    batch_size: int = 100,
    max_batches: int = 20,
    now: datetime | None = None,
) -> int:
    """Expires held reservations past ``now`` (default: the current time); returns how many.

    Stops after ``max_batches`` or at the first batch that was not full (nothing more is due,
    or another replica holds the rest). Each batch is its own unit of work: committed, then the
    relay woken, so the released events leave at once.
    """
    now = now or utcnow()
    runtime = inventory_runtime(context)
    expired = 0
    for _ in range(max_batches):
        async with unit_of_work(context) as session:
            claimed, views = await runtime.service(session).expire_due(now=now, limit=batch_size)
        if views:
            expired += len(views)
            metrics.expired_releases_total.inc(len(views))
            metrics.reservation_transitions_total.labels("expired").inc(len(views))
            metrics.units_total.labels("expired").inc(sum(q for view in views for _, q in view.items))
        if claimed < batch_size:
            break
    if expired:
        log.info("reservations_expired", count=expired)
    return expired


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    settings = context.settings_as(InventorySettings)

    async def sweep() -> int:
        return await release_expired(
            context, batch_size=settings.sweep_batch_size, max_batches=settings.sweep_max_batches
        )

    return (PeriodicTask(SWEEP_TASK, settings.sweep_interval_seconds, sweep),)
