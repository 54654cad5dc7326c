"""Orders' composition root: ``start`` builds its runtime once, at start-up.

``start`` picks each port's adapter once, for the whole life of the service
(:func:`build_gateways`, the one place they are chosen: direct adapters when embedded, HTTP when
distributed), and builds the checkout saga over them, each step of it in ``unit_of_work(context)``
(which wakes the relay after a step that wrote events). The runtime holds them, the chassis's
idempotency store and the settings, typed; the endpoints, the consumer and the recovery task take
it from the context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts import http, ports
from agora.platform.db import unit_of_work
from agora.platform.db.pools import pool_size_for
from agora.platform.http.deps import runtime_of
from agora.platform.idempotency import IdempotencyStore
from agora.platform.messaging import Outbox
from agora.platform.peers import port_of
from agora.platform.service import ServiceContext
from agora.services.orders.gateways import Gateways, gateways_over
from agora.services.orders.saga import Admission, CheckoutSaga
from agora.services.orders.service import OrdersService
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
    outbox: Outbox
    gateways: Gateways
    """The ports to cart, catalog, currency, shipping, inventory and payments."""
    saga: CheckoutSaga
    keys: IdempotencyStore
    """The chassis's idempotency store (checkout keys; shared with the purge task)."""

    def service(self, session: AsyncSession, *, visible_to: str | None = None) -> OrdersService:
        """The rules outside the saga, in ``session``; ``visible_to``: the customer whose orders
        it may see (None for everyone's)."""
        return OrdersService(session, events=self.outbox, gateways=self.gateways, visible_to=visible_to)


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[OrdersRuntime]:
    settings = context.settings_as(OrdersSettings)
    gateways = build_gateways(context)
    saga = CheckoutSaga(
        sessions=context.sessions,
        unit_of_work=lambda: unit_of_work(context),
        outbox=context.outbox,
        gateways=gateways,
        settings=settings,
        keys=context.idempotency,
        admission=Admission(
            settings.checkout_concurrency or pool_size_for(settings, context.platform),
            context.platform.database_pool_queue,
        ),
    )
    yield OrdersRuntime(
        settings=settings, outbox=context.outbox, gateways=gateways, saga=saga, keys=context.idempotency
    )


Runtime = Annotated[OrdersRuntime, Depends(runtime_of(OrdersRuntime))]
"""Orders' runtime, for its endpoints."""

__all__ = ["OrdersRuntime", "Runtime", "build_gateways", "start"]
