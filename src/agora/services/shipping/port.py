"""Shipping's direct adapter of :class:`~agora.contracts.ports.ShippingPort` (embedded mode).

Each operation is its route without HTTP (:mod:`agora.platform.peers`): the route's validation of
the body (``schemas.QuoteRequest``, ``schemas.ShipmentCreate``: a 422 naming the field), the role
check where the route has one (service or admin to ship), shipping's own transaction, the same
errors and the same metrics.
"""

from __future__ import annotations

from agora.contracts.shipping import Quote, QuoteRequest, Shipment, ShipmentRequest
from agora.platform.db import after_commit
from agora.platform.peers import Peer, parsed, runtime_in, transaction
from agora.platform.service import ServiceContext
from agora.services.shipping import schemas
from agora.services.shipping.metrics import quotes_total, shipments_total
from agora.services.shipping.pricing import price
from agora.services.shipping.runtime import ShippingRuntime
from agora.services.shipping.service import CREATED, shipment_document


class DirectShipping:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def quote(self, request: QuoteRequest) -> Quote:
        async def work(_: ServiceContext) -> Quote:
            body = parsed(schemas.QuoteRequest, request)
            priced = price(body.address.country, (item.quantity for item in body.items))
            quotes_total.labels(priced.zone).inc()
            return Quote.model_validate(priced.document())

        return await self._peer.call("quote", work)

    async def ship(self, request: ShipmentRequest) -> Shipment:
        async def work(context: ServiceContext) -> Shipment:
            caller = self._peer.caller.require("service", "admin")
            body = parsed(schemas.ShipmentCreate, request)
            async with transaction(context) as session:
                service = runtime_in(context, ShippingRuntime).service(session)
                result = await service.create(body, actor=caller.id)
                if result.created:
                    after_commit(session, shipments_total.labels(CREATED).inc)
                return Shipment.model_validate(shipment_document(result.shipment))

        return await self._peer.call("ship", work)


__all__ = ["DirectShipping"]
