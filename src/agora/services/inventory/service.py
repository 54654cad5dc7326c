"""Inventory's rules: stock is never negative, never oversold, and every reservation ends.

A reservation is ``held`` (its units counted in ``stock.reserved``), then exactly one of:

* ``committed``: the units left (``on_hand`` and ``reserved`` both go down);
* ``released``: given back by the caller (``reserved`` goes down), or, for a committed one
  whose order was cancelled, restocked (``on_hand`` goes back up);
* ``expired``: the sweep gave a held one back when its time ran out.

Each transition is a conditional UPDATE on the reservation's status followed by the stock
deltas, in one transaction (the caller's: the request session or a unit of work), so two
concurrent commits or releases of one reservation cannot both apply. A transaction that changes
several stock rows locks them first, in the database's sku order
(:meth:`InventoryRepository.lock_stock`), so transactions over several skus never wait on each
other in a cycle.

No web framework here and no commit. Refusals are :class:`ServiceError` subclasses.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.inventory import (
    ReleaseReason,
    ReservationRequest,
    ReservedItem,
    StockCommitted,
    StockReleased,
    StockReserved,
    StockUpdated,
)
from agora.platform.db import after_commit
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError
from agora.platform.http.pagination import Cursors
from agora.platform.messaging import Outbox
from agora.services.inventory import metrics
from agora.services.inventory.models import (
    COMMITTED,
    EXPIRED,
    HELD,
    RELEASED,
    Reservation,
    ReservationItem,
    Stock,
)
from agora.services.inventory.repository import InventoryRepository

#: Demo stock per seeded product: a stable number in this range, from a hash of the sku.
DEMO_STOCK_MIN = 20
DEMO_STOCK_MAX = 120


# -- errors --------------------------------------------------------------------------------------


log = structlog.get_logger(__name__)


class InsufficientStockError(ConflictError):
    """Fewer units are available than a line asks for (or the sku has no stock row at all).

    The problem body carries the ``sku`` and how many are ``available`` next to the field, so the
    saga can tell the customer which product ran out and how many are left.
    """

    def __init__(self, detail: str, *, field: str, sku: str, available: int) -> None:
        super().__init__(detail, field=field, sku=sku, available=available)
        self.sku = sku
        self.available = available


#: The list a stock cursor belongs to.
STOCK_LIST = "stock"


# -- representations -----------------------------------------------------------------------------


def demo_quantity(sku: str) -> int:
    """Demo stock for a seeded product: the same on every installation, spread over the range."""
    digest = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:4], "big")
    return DEMO_STOCK_MIN + digest % (DEMO_STOCK_MAX - DEMO_STOCK_MIN + 1)


def stock_document(stock: Stock) -> dict[str, Any]:
    """A stock row as the API returns it (``agora.contracts.inventory.StockLevel``)."""
    return {"sku": stock.sku, "on_hand": stock.on_hand, "reserved": stock.reserved, "available": stock.available}


@dataclass(frozen=True)
class ReservationView:
    """A reservation with its lines, as read in the current transaction."""

    id: str
    status: str
    expires_at: datetime
    items: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, reservation: Reservation, items: Sequence[ReservationItem]) -> ReservationView:
        lines = tuple(sorted((item.sku, item.quantity) for item in items))
        return cls(id=reservation.id, status=reservation.status, expires_at=reservation.expires_at, items=lines)

    def item_documents(self) -> list[dict[str, Any]]:
        return [{"sku": sku, "quantity": quantity} for sku, quantity in self.items]

    def reserved_items(self) -> list[ReservedItem]:
        """The lines as events carry them."""
        return [ReservedItem(sku=sku, quantity=quantity) for sku, quantity in self.items]

    def document(self) -> dict[str, Any]:
        """The API shape (``agora.contracts.inventory.Reservation``)."""
        return {
            "id": self.id,
            "status": self.status,
            "expires_at": iso_utc(self.expires_at),
            "items": self.item_documents(),
        }


@dataclass(frozen=True)
class Reserved:
    reservation: ReservationView
    created: bool
    """False when the id was already reserved: the existing reservation is the answer."""


@dataclass(frozen=True)
class StockPage:
    items: list[Stock]
    next_cursor: str | None


def _lines(request: ReservationRequest) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((item.sku, item.quantity) for item in request.items))


class InventoryService:
    def __init__(self, session: AsyncSession, *, events: Outbox, default_ttl_seconds: int = 900) -> None:
        self.session = session
        self.events = events
        self.default_ttl = timedelta(seconds=default_ttl_seconds)
        self.repository = InventoryRepository(session)

    # -- stock ----------------------------------------------------------------------------------

    async def get_stock(self, sku: str) -> Stock:
        stock = await self.repository.get_stock(sku)
        if stock is None:
            raise NotFoundError(f"No stock is recorded for sku {sku}.", field="sku")
        return stock

    async def get_stocks(self, skus: Sequence[str]) -> Sequence[Stock]:
        return await self.repository.get_stocks(skus)

    async def list_stock(self, *, limit: int, cursor: str | None, cursors: Cursors) -> StockPage:
        """By sku; a refused cursor is the chassis's 422 naming ``query.cursor``."""
        after = cursors.decode(cursor, tuple[str], of=STOCK_LIST)
        rows = list(await self.repository.list_stock(limit=limit + 1, after_sku=after[0] if after else None))
        items, next_cursor = cursors.page(rows, limit, lambda stock: (stock.sku,), of=STOCK_LIST)
        return StockPage(items=items, next_cursor=next_cursor)

    async def set_on_hand(self, sku: str, on_hand: int) -> tuple[Stock, bool]:
        """An admin's count: creates the row if the sku has none; refuses to go below ``reserved``."""
        created = await self.repository.create_stock_if_missing(sku, on_hand)
        if not created and not await self.repository.set_on_hand(sku, on_hand):
            stock = await self.get_stock(sku)
            raise ConflictError(
                f"{stock.reserved} units of {sku} are reserved; on_hand cannot go below that.", field="on_hand"
            )
        stock = await self.get_stock(sku)
        await self._stock_updated(stock)
        return stock, created

    async def create_for_product(self, sku: str, *, demo: bool) -> bool:
        """Gives a new catalog product its stock row (demo stock for seeded products, else 0).

        A sku that already has a row keeps it untouched: an admin may have counted it first, and
        a redelivered event must change nothing.
        """
        on_hand = demo_quantity(sku) if demo else 0
        if not await self.repository.create_stock_if_missing(sku, on_hand):
            return False
        await self._stock_updated(await self.get_stock(sku))
        return True

    async def follow_sku_change(self, old: str, new: str) -> bool:
        """A product's sku changed in the catalog: its stock (and any held lines) move to the new sku.

        If the new sku already has a row (an admin counted it first) both are left as they are
        and the change is logged: merging two counts is a decision for a person, not a consumer.
        """
        if old == new or await self.repository.get_stock(new) is not None:
            if old != new:
                log.warning("sku_change_not_followed", old=old, new=new, reason="the new sku has stock already")
            return False
        if not await self.repository.rename_sku(old, new):
            return await self.create_for_product(new, demo=False)  # the old sku never had a row
        await self._stock_updated(await self.get_stock(new))
        return True

    async def _stock_updated(self, stock: Stock) -> None:
        updated = StockUpdated(
            sku=stock.sku,
            on_hand=stock.on_hand,
            reserved=stock.reserved,
            available=stock.available,
            version=stock.version,
        )
        await self.events.add(self.session, updated, subject=stock.sku, key=stock.sku)

    # -- reservations ---------------------------------------------------------------------------

    async def get_reservation(self, reservation_id: str) -> ReservationView:
        view = await self._find(reservation_id)
        if view is None:
            raise NotFoundError(f"No reservation with id {reservation_id}.", field="reservation_id")
        return view

    async def _find(self, reservation_id: str) -> ReservationView | None:
        reservation = await self.repository.get_reservation(reservation_id)
        if reservation is None:
            return None
        return ReservationView.of(reservation, await self.repository.items_of(reservation_id))

    async def reserve(self, request: ReservationRequest, *, now: datetime | None = None) -> Reserved:
        """Holds every line or none: the first line short of stock rolls the whole request back."""
        existing = await self._existing(request)
        if existing is not None:
            return existing
        now = now or utcnow()
        ttl = timedelta(seconds=request.ttl_seconds) if request.ttl_seconds is not None else self.default_ttl
        reservation = Reservation(
            id=request.reservation_id, status=HELD, expires_at=now + ttl, created_at=now, updated_at=now
        )
        items = [ReservationItem(reservation_id=reservation.id, sku=sku, quantity=qty) for sku, qty in _lines(request)]
        try:
            await self.repository.insert_reservation(reservation, items)
        except IntegrityError:
            # a concurrent request with the same id inserted first (and has committed: the insert
            # waited for it); nothing of ours is written yet, so start over and answer with theirs
            await self.session.rollback()
            existing = await self._existing(request)
            if existing is None:
                raise
            return existing

        lines = _lines(request)
        if not await self.repository.hold_all(lines):
            # some line was short: undo the lines that were held, then name the first short one
            await self.session.rollback()
            positions = {item.sku: index for index, item in enumerate(request.items)}
            for sku, quantity in lines:
                stock = await self.repository.get_stock(sku)
                if stock is None or stock.available < quantity:
                    raise await self._refusal(positions[sku], sku, quantity)
            raise ConflictError("The stock changed while reserving; retry.", field="items")

        view = ReservationView.of(reservation, items)
        await self._emit(StockReserved(reservation_id=view.id, items=view.reserved_items(), expires_at=view.expires_at))
        self._count_after_commit(lambda: metrics.reservations_total.labels("held").inc())
        self._count_units("reserved", view)
        return Reserved(view, created=True)

    async def _existing(self, request: ReservationRequest) -> Reserved | None:
        view = await self._find(request.reservation_id)
        if view is None:
            return None
        if view.items != _lines(request):
            raise ConflictError(
                f"Reservation {request.reservation_id} already exists with other items; use a new id.",
                field="reservation_id",
            )
        metrics.reservations_total.labels("existing").inc()
        return Reserved(view, created=False)

    async def _refusal(self, index: int, sku: str, quantity: int) -> InsufficientStockError:
        stock = await self.repository.get_stock(sku)
        if stock is None:
            metrics.reservations_total.labels("unknown_sku").inc()
            return InsufficientStockError(
                f"No stock is recorded for sku {sku}.", field=f"items[{index}].sku", sku=sku, available=0
            )
        metrics.reservations_total.labels("out_of_stock").inc()
        available = max(stock.available, 0)
        return InsufficientStockError(
            f"Only {available} of {sku} available; {quantity} requested.",
            field=f"items[{index}].quantity",
            sku=sku,
            available=available,
        )

    async def commit(self, reservation_id: str) -> ReservationView:
        """The held units leave the warehouse. Committing a committed reservation is a no-op.

        A hold whose ``expires_at`` passed but that the sweep has not reached yet still commits:
        its units are still reserved, and refusing would fail a checkout that was already paid.
        """
        if await self.repository.transition(reservation_id, from_status=HELD, to_status=COMMITTED):
            view = await self.get_reservation(reservation_id)
            await self.repository.lock_stock(sku for sku, _ in view.items)
            for sku, quantity in view.items:
                await self.repository.adjust(sku, on_hand=-quantity, reserved=-quantity)
            await self._emit(StockCommitted(reservation_id=view.id, items=view.reserved_items()))
            self._count_transition("committed", view)
            return view
        view = await self.get_reservation(reservation_id)
        if view.status != COMMITTED:
            raise ConflictError(
                f"Reservation {reservation_id} is {view.status}; its units are no longer held.", field="status"
            )
        return view

    async def release(self, reservation_id: str) -> ReservationView:
        """Gives the units back: a held reservation's hold ends, a committed one is restocked.

        Releasing a released or expired reservation changes nothing and answers it as it is.
        """
        if await self.repository.transition(reservation_id, from_status=HELD, to_status=RELEASED):
            return await self._released(reservation_id, "released", on_hand=0)
        if await self.repository.transition(reservation_id, from_status=COMMITTED, to_status=RELEASED):
            return await self._released(reservation_id, "restocked", on_hand=1)
        return await self.get_reservation(reservation_id)

    async def _released(self, reservation_id: str, reason: ReleaseReason, *, on_hand: int) -> ReservationView:
        view = await self.get_reservation(reservation_id)
        await self.repository.lock_stock(sku for sku, _ in view.items)
        for sku, quantity in view.items:
            if on_hand:
                await self.repository.adjust(sku, on_hand=quantity)
            else:
                await self.repository.adjust(sku, reserved=-quantity)
        await self._emit_released(view, reason)
        self._count_transition(reason, view)
        return view

    async def expire_due(self, *, now: datetime, limit: int) -> tuple[int, list[ReservationView]]:
        """Expires up to ``limit`` held reservations whose time ran out; returns (claimed, expired).

        The stock given back is summed per sku and applied one UPDATE per sku, the rows locked
        first in sku order.
        """
        claimed = await self.repository.claim_expired(now, limit)
        expired = [
            reservation_id
            for reservation_id in claimed
            if await self.repository.transition(reservation_id, from_status=HELD, to_status=EXPIRED)
        ]
        if not expired:
            return len(claimed), []
        items = await self.repository.items_of_many(expired)
        totals: dict[str, int] = defaultdict(int)
        for lines in items.values():
            for item in lines:
                totals[item.sku] += item.quantity
        await self.repository.lock_stock(totals)
        for sku in sorted(totals):
            await self.repository.adjust(sku, reserved=-totals[sku])
        views = []
        for reservation_id in expired:
            reservation = await self.repository.get_reservation(reservation_id)
            assert reservation is not None  # locked and just moved by this transaction
            view = ReservationView.of(reservation, items[reservation_id])
            await self._emit_released(view, "expired")
            views.append(view)
        return len(claimed), views

    async def _emit_released(self, view: ReservationView, reason: ReleaseReason) -> None:
        await self._emit(StockReleased(reservation_id=view.id, items=view.reserved_items(), reason=reason))

    async def _emit(self, event: StockReserved | StockCommitted | StockReleased) -> None:
        await self.events.add(self.session, event, subject=event.reservation_id, key=event.reservation_id)

    # -- metrics, counted once the transaction committed ----------------------------------------

    def _count_after_commit(self, callback: Any) -> None:
        after_commit(self.session, callback)

    def _count_units(self, movement: str, view: ReservationView) -> None:
        units = sum(quantity for _, quantity in view.items)
        self._count_after_commit(lambda: metrics.units_total.labels(movement).inc(units))

    def _count_transition(self, transition: str, view: ReservationView) -> None:
        self._count_after_commit(lambda: metrics.reservation_transitions_total.labels(transition).inc())
        self._count_units(transition, view)
