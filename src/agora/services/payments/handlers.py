"""Reactions to other services' events, and the service's periodic work.

Payments consumes no events: the checkout saga calls it over HTTP, and a refund is an explicit
request, never a side effect of someone else's event. Its only background work is forgetting
idempotency keys past their 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.platform.idempotency import IdempotencyStore
from agora.platform.tasks import PeriodicTask

if TYPE_CHECKING:
    from agora.platform.messaging import Consumer
    from agora.platform.service import ServiceContext

#: Keys live 24 hours; purging hourly keeps the table at about a day of charges.
PURGE_INTERVAL_SECONDS = 3600.0


def consumers(_context: ServiceContext) -> Iterable[Consumer]:
    return ()


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    store = context.extras.get("idempotency")
    if store is None:  # the same store the endpoints use (agora.platform.idempotency.store_for)
        store = context.extras["idempotency"] = IdempotencyStore(context.sessions)
    return [PeriodicTask("payments-idempotency-purge", PURGE_INTERVAL_SECONDS, store.purge)]
