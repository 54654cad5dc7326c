"""The orders' rules outside the checkout saga: reading history, shipping and delivery.

No web framework and no commit: the request session commits the status change with its outbox
event. Shipping calls the shipping service first (idempotent per order) and then moves the
status with a conditional UPDATE, so a cancel that won meanwhile makes this a 409, not a
shipped-and-cancelled order.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.orders import OrderDelivered, OrderShipped
from agora.platform.errors import BadGatewayError, NotFoundError, ServiceError
from agora.services.orders.documents import address_of
from agora.services.orders.gateways import GatewayError, Gateways, Refused, StockLine
from agora.services.orders.models import Order
from agora.services.orders.repository import OrdersRepository
from agora.services.orders.status import Status, allowed, check, sources

if TYPE_CHECKING:  # types only: the rules import no web framework
    from agora.platform.http.pagination import Cursors
    from agora.platform.messaging import Outbox

#: The list a history cursor belongs to (with the customer it was made for).
CURSOR_LIST = "orders"


class ConcurrentChangeError(ServiceError):
    status = 409
    field = "status"


class OrdersService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        events: Outbox,
        gateways: Gateways | None = None,
        visible_to: str | None = None,
    ) -> None:
        """``visible_to``: the customer whose orders this request may see (None for admins)."""
        self.session = session
        self.events = events
        self.gateways = gateways
        self.repository = OrdersRepository(session, visible_to=visible_to)

    async def get(self, order_id: str) -> Order:
        order = await self.repository.get(order_id) if len(order_id) <= 36 else None
        if order is None:
            # another customer's order is "not found" too: its existence is not theirs to learn
            raise NotFoundError(f"No order with id {order_id}.")
        return order

    async def history(
        self, *, user_id: str | None, limit: int, cursor: str | None, cursors: Cursors
    ) -> tuple[list[Order], str | None]:
        """Newest first, and the next page's cursor; a cursor is refused (the chassis's 422 naming
        ``query.cursor``) when it was made for another customer's list or was modified."""
        after = cursors.decode(cursor, tuple[datetime, str], of=CURSOR_LIST, user_id=user_id)
        rows = await self.repository.page(user_id=user_id, after=after, limit=limit + 1)
        return cursors.page(rows, limit, _position, of=CURSOR_LIST, user_id=user_id)

    async def ship(self, order_id: str) -> Order:
        order = await self.get(order_id)
        check(order.status, Status.shipped)
        assert self.gateways is not None
        lines = [StockLine(item.sku, item.quantity) for item in order.items]
        try:
            shipment = await self.gateways.shipping.ship(order.id, address_of(order), lines)
        except Refused as exc:
            raise BadGatewayError(f"Shipping refused the shipment: {exc.detail or exc.status}.") from None
        except GatewayError:
            raise BadGatewayError("Shipping is unavailable right now; the order was not shipped.") from None
        await self._move(order, Status.shipped, tracking_id=shipment.tracking_id)
        shipped = OrderShipped(order_id=order.id, user_id=order.user_id, tracking_id=shipment.tracking_id)
        await self.events.add(self.session, shipped, subject=order.id)
        return await self._reloaded(order.id)

    async def deliver(self, order_id: str) -> Order:
        order = await self.get(order_id)
        check(order.status, Status.delivered)
        await self._deliver(order)
        return await self._reloaded(order.id)

    async def delivered_by_carrier(self, order_id: str) -> bool:
        """The carrier delivered the order's parcel: ``shipped`` -> ``delivered``; False when the
        order is unknown or not shipped (already delivered, or cancelled meanwhile)."""
        order = await self.repository.get(order_id)
        if order is None or not allowed(order.status, Status.delivered):
            return False
        await self._deliver(order)
        return True

    async def _deliver(self, order: Order) -> None:
        await self._move(order, Status.delivered)
        await self.events.add(self.session, OrderDelivered(order_id=order.id, user_id=order.user_id), subject=order.id)

    async def _move(self, order: Order, target: Status, **values: Any) -> None:
        won = await self.repository.update(
            order.id, version=order.version, statuses=sources(target), status=target.value, **values
        )
        if not won:
            raise ConcurrentChangeError("The order changed meanwhile; fetch it again and retry.")

    async def _reloaded(self, order_id: str) -> Order:
        self.session.expire_all()
        return await self.get(order_id)


def _position(order: Order) -> tuple[datetime, str]:
    return order.created_at, order.id


__all__ = ["CURSOR_LIST", "ConcurrentChangeError", "OrdersService"]
