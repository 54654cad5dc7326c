"""Inventory's background work: the expiry sweep, so no reservation holds stock forever.

Every ``sweep_interval_seconds`` the sweep expires held reservations whose ``expires_at`` has
passed, one transaction per batch. It is safe with several replicas sweeping at once: each
batch locks its rows with ``SKIP LOCKED`` (replicas take disjoint batches) and each reservation
moves with a conditional UPDATE on its status (a reservation committed or released meanwhile
is left alone), so a reservation is given back exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.messaging import Outbox
from agora.platform.tasks import PeriodicTask
from agora.services.inventory import metrics
from agora.services.inventory.service import InventoryService
from agora.services.inventory.settings import InventorySettings

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)

SWEEP_TASK = "inventory.expire_reservations"


async def release_expired(
    sessions: async_sessionmaker[AsyncSession],
    events: Outbox,
    *,
    batch_size: int = 100,
    max_batches: int = 20,
    now: datetime | None = None,
    notify: Callable[[], None] | None = None,
) -> int:
    """Expires held reservations past ``now`` (default: the current time); returns how many.

    Stops after ``max_batches`` or at the first batch that was not full (nothing more is due,
    or another replica holds the rest).
    """
    now = now or utcnow()
    expired = 0
    for _ in range(max_batches):
        async with unit_of_work(sessions) as session:
            claimed, views = await InventoryService(session, events=events).expire_due(now=now, limit=batch_size)
            await session.commit()
        if views:
            expired += len(views)
            metrics.expired_releases_total.inc(len(views))
            metrics.reservation_transitions_total.labels("expired").inc(len(views))
            metrics.units_total.labels("expired").inc(sum(q for view in views for _, q in view.items))
            if notify is not None:
                notify()  # the released events can leave now
        if claimed < batch_size:
            break
    if expired:
        log.info("reservations_expired", count=expired)
    return expired


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    settings = context.settings
    assert isinstance(settings, InventorySettings)

    async def sweep() -> int:
        return await release_expired(
            context.sessions,
            context.outbox,
            batch_size=settings.sweep_batch_size,
            max_batches=settings.sweep_max_batches,
            notify=context.relay.notify,
        )

    return (PeriodicTask(SWEEP_TASK, settings.sweep_interval_seconds, sweep),)
