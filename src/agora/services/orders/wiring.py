"""What the orders endpoints and tasks take from the service's runtime (``runtime.py``).

The saga itself (``saga.py``) takes plain arguments (sessions, outbox, gateways, settings) so
tests can drive it with fakes of the other services.
"""

from __future__ import annotations

from collections.abc import Iterable

from agora.platform.idempotency import IdempotencyStore, purge_task
from agora.platform.service import ServiceContext
from agora.platform.tasks import PeriodicTask
from agora.services.orders.gateways import Gateways
from agora.services.orders.runtime import orders_runtime
from agora.services.orders.saga import CheckoutSaga
from agora.services.orders.settings import OrdersSettings


def settings_of(context: ServiceContext) -> OrdersSettings:
    return context.settings_as(OrdersSettings)


def gateways_for(context: ServiceContext) -> Gateways:
    return orders_runtime(context).gateways


def keys_for(context: ServiceContext) -> IdempotencyStore:
    """The chassis' store, shared with the endpoints' ``store_for`` and the purge task."""
    return context.idempotency


def saga_for(context: ServiceContext) -> CheckoutSaga:
    return orders_runtime(context).saga


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    """Saga recovery: at start-up, then every ``recovery_interval`` seconds; and the hourly purge
    of idempotency keys past their 24 hours."""

    async def recover() -> int:
        return await saga_for(context).recover()

    return [PeriodicTask("orders.recovery", settings_of(context).recovery_interval, recover), purge_task(context)]
