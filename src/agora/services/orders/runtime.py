"""The orders service's runtime: its ports to the other services and the checkout saga, built once.

``start`` (the spec's composition root hook) picks each port's adapter once, for the whole life of
the service (:func:`build_gateways`, the one place they are chosen: direct adapters when
embedded, HTTP when distributed), and builds the saga over them; the endpoints and the recovery
task take both from here (``wiring.py``) instead of building them lazily.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agora.contracts import http, ports
from agora.platform.db.pools import pool_size_for
from agora.platform.idempotency import IdempotencyStore
from agora.platform.peers import port_of
from agora.platform.service import ServiceContext
from agora.services.orders.gateways import Gateways, gateways_over
from agora.services.orders.saga import Admission, CheckoutSaga
from agora.services.orders.settings import OrdersSettings


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


@dataclass(frozen=True)
class OrdersRuntime:
    settings: OrdersSettings
    gateways: Gateways
    saga: CheckoutSaga
    keys: IdempotencyStore
    """The chassis's idempotency store (checkout keys; shared with the purge task)."""


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[OrdersRuntime]:
    settings = context.settings_as(OrdersSettings)
    gateways = build_gateways(context)
    saga = CheckoutSaga(
        sessions=context.sessions,
        outbox=context.outbox,
        notify=context.relay.notify,
        gateways=gateways,
        settings=settings,
        keys=context.idempotency,
        admission=Admission(
            settings.checkout_concurrency or pool_size_for(settings, context.platform),
            context.platform.database_pool_queue,
        ),
    )
    yield OrdersRuntime(settings=settings, gateways=gateways, saga=saga, keys=context.idempotency)


def orders_runtime(context: ServiceContext) -> OrdersRuntime:
    """The running service's runtime (built by :func:`start`), checked."""
    runtime = context.runtime
    if not isinstance(runtime, OrdersRuntime):
        raise TypeError(f"orders' runtime is a {type(runtime).__name__}, not an OrdersRuntime")
    return runtime


__all__ = ["OrdersRuntime", "build_gateways", "orders_runtime", "start"]
