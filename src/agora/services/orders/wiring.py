"""Builds the saga and its recovery task from a running service's context (once per context).

Kept apart from ``saga.py`` so the saga itself takes plain arguments (sessions, outbox,
gateways, settings) and tests can drive it with fakes of the other services.
"""

from __future__ import annotations

from collections.abc import Iterable

from agora.contracts import http, ports
from agora.platform.idempotency import IdempotencyStore, context_store, purge_task
from agora.platform.peers import port_of
from agora.platform.service import ServiceContext
from agora.platform.tasks import PeriodicTask
from agora.services.orders.gateways import Gateways, gateways_over
from agora.services.orders.saga import CheckoutSaga
from agora.services.orders.settings import OrdersSettings

GATEWAYS = "orders.gateways"
SAGA = "orders.saga"


def settings_of(context: ServiceContext) -> OrdersSettings:
    settings = context.settings
    assert isinstance(settings, OrdersSettings)
    return settings


def build_gateways(context: ServiceContext) -> Gateways:
    """The saga's gateways over each service's port, as the orders service (its service identity):
    direct adapters when embedded, HTTP when distributed (``port_of`` chooses)."""
    return gateways_over(
        cart=port_of(context, "cart", ports.CartPort, http.HttpCart),
        catalog=port_of(context, "catalog", ports.CatalogPort, http.HttpCatalog),
        currency=port_of(context, "currency", ports.CurrencyPort, http.HttpCurrency),
        shipping=port_of(context, "shipping", ports.ShippingPort, http.HttpShipping),
        inventory=port_of(context, "inventory", ports.InventoryPort, http.HttpInventory),
        payments=port_of(context, "payments", ports.PaymentsPort, http.HttpPayments),
    )


def gateways_for(context: ServiceContext) -> Gateways:
    gateways: Gateways | None = context.extras.get(GATEWAYS)
    if gateways is None:
        gateways = context.extras[GATEWAYS] = build_gateways(context)
    return gateways


def keys_for(context: ServiceContext) -> IdempotencyStore:
    """The chassis' store, shared with the endpoints' ``store_for`` and the purge task."""
    return context_store(context)


def saga_for(context: ServiceContext) -> CheckoutSaga:
    saga: CheckoutSaga | None = context.extras.get(SAGA)
    if saga is None:
        saga = context.extras[SAGA] = CheckoutSaga(
            sessions=context.sessions,
            outbox=context.outbox,
            notify=context.relay.notify,
            gateways=gateways_for(context),
            settings=settings_of(context),
            keys=keys_for(context),
        )
    return saga


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    """Saga recovery: at start-up, then every ``recovery_interval`` seconds; and the hourly purge
    of idempotency keys past their 24 hours."""

    async def recover() -> int:
        return await saga_for(context).recover()

    return [PeriodicTask("orders.recovery", settings_of(context).recovery_interval, recover), purge_task(context)]
