"""Inventory's direct adapter of :class:`~agora.contracts.ports.InventoryPort` (embedded mode).

Each operation is its route without HTTP: the route's role check on the caller, the route's
parameter rules, inventory's own session and transaction (a write commits, then wakes the relay,
as a request's ``Session`` does), the same errors. See :mod:`agora.platform.peers`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.inventory import Reservation, ReservationId, ReservationRequest, Sku, StockLevel
from agora.platform.peers import Peer, checked, reading, transaction
from agora.platform.service import ServiceContext
from agora.services.inventory.runtime import inventory_runtime
from agora.services.inventory.service import InventoryService, ReservationView, stock_document

_RESERVATION_ID: TypeAdapter[str] = TypeAdapter(ReservationId)
_SKU: TypeAdapter[str] = TypeAdapter(Sku)


def _service(context: ServiceContext, session: AsyncSession) -> InventoryService:
    return inventory_runtime(context).service(session)


def _reservation(view: ReservationView) -> Reservation:
    return Reservation.model_validate(view.document())


class DirectInventory:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def reserve(self, request: ReservationRequest) -> Reservation:
        async def work(context: ServiceContext) -> Reservation:
            self._peer.caller.require("service")
            async with transaction(context) as session:
                reserved = await _service(context, session).reserve(request)
            return _reservation(reserved.reservation)

        return await self._peer.call("reserve", work)

    async def commit(self, reservation_id: str) -> Reservation:
        return await self._transition("commit", reservation_id)

    async def release(self, reservation_id: str) -> Reservation:
        return await self._transition("release", reservation_id)

    async def _transition(self, operation: Literal["commit", "release"], reservation_id: str) -> Reservation:
        """``POST .../reservations/{id}/commit`` or ``/release`` (service or admin)."""

        async def work(context: ServiceContext) -> Reservation:
            self._peer.caller.require("service", "admin")
            checked(_RESERVATION_ID, reservation_id, "path.reservation_id")
            async with transaction(context) as session:
                service = _service(context, session)
                moved = service.commit if operation == "commit" else service.release
                return _reservation(await moved(reservation_id))

        return await self._peer.call(operation, work)

    async def stock(self, sku: str) -> StockLevel:
        async def work(context: ServiceContext) -> StockLevel:
            checked(_SKU, sku, "path.sku")
            async with reading(context) as session:
                return StockLevel.model_validate(stock_document(await _service(context, session).get_stock(sku)))

        return await self._peer.call("stock", work)


__all__ = ["DirectInventory"]
