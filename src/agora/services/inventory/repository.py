"""Every inventory query.

Stock and reservation changes are conditional ``UPDATE`` statements: the ``WHERE`` clause holds
the precondition (enough available, the reservation still ``held``...) and the row count says
whether the change applied. The database evaluates the condition on the latest committed row
while holding its lock (PostgreSQL re-checks it after waiting; InnoDB's locking read does too;
SQLite has one writer at a time), so two concurrent requests can never both take the last unit
and two concurrent transitions of one reservation can never both apply. No Python lock is
involved, which is why this holds across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import dialect_of
from agora.platform.db.types import utcnow
from agora.services.inventory.models import HELD, Reservation, ReservationItem, Stock


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = dialect_of(str(session.get_bind().engine.url))

    # -- stock ----------------------------------------------------------------------------------

    async def get_stock(self, sku: str) -> Stock | None:
        return await self.session.get(Stock, sku, populate_existing=True)

    async def get_stocks(self, skus: Iterable[str]) -> Sequence[Stock]:
        statement = select(Stock).where(Stock.sku.in_(sorted(set(skus)))).order_by(Stock.sku)
        return (await self.session.scalars(statement)).all()

    async def list_stock(self, *, limit: int, after_sku: str | None) -> Sequence[Stock]:
        statement = select(Stock).order_by(Stock.sku).limit(limit)
        if after_sku is not None:
            statement = statement.where(Stock.sku > after_sku)
        return (await self.session.scalars(statement)).all()

    def _insert_if_missing(self) -> Insert:
        """``INSERT`` that silently does nothing when the sku already has a row (row count 0)."""
        if self.dialect == "postgresql":
            return postgresql.insert(Stock).on_conflict_do_nothing(index_elements=[Stock.sku])
        if self.dialect == "sqlite":
            return sqlite.insert(Stock).on_conflict_do_nothing(index_elements=[Stock.sku])
        # MariaDB/MySQL: IGNORE also downgrades CHECK failures to warnings, so callers must only
        # pass valid rows (on_hand >= 0, reserved 0), which they do
        return insert(Stock).prefix_with("IGNORE")

    async def create_stock_if_missing(self, sku: str, on_hand: int) -> bool:
        """Creates the sku's row with ``on_hand`` units; False (and no change) if it exists."""
        values = {"sku": sku, "on_hand": on_hand, "reserved": 0, "updated_at": utcnow(), "version": 1}
        return _rowcount(await self.session.execute(self._insert_if_missing().values(**values))) == 1

    async def rename_sku(self, old: str, new: str) -> bool:
        """Moves ``old``'s stock row and its reservation lines to ``new``; False if ``old`` has no row."""
        moved = _rowcount(
            await self.session.execute(
                update(Stock).where(Stock.sku == old).values(sku=new, version=Stock.version + 1, updated_at=utcnow())
            )
        )
        if moved != 1:
            return False
        await self.session.execute(update(ReservationItem).where(ReservationItem.sku == old).values(sku=new))
        return True

    async def set_on_hand(self, sku: str, on_hand: int) -> bool:
        """Sets the count unless fewer than the units already reserved; False when refused or missing."""
        statement = (
            update(Stock)
            .where(Stock.sku == sku, Stock.reserved <= on_hand)
            .values(on_hand=on_hand, version=Stock.version + 1, updated_at=utcnow())
        )
        return _rowcount(await self.session.execute(statement)) == 1

    async def hold_all(self, lines: Sequence[tuple[str, int]]) -> bool:
        """Reserves every line's units in one UPDATE if each sku has that many available; False
        when any is short or unknown. The rows that did have enough are updated all the same:
        the caller must then roll the transaction back (a reservation holds all lines or none).

        One UPDATE instead of one per line: a CASE picks each row's quantity, and the row count
        tells whether every line was held. The UPDATE locks rows in the order its scan meets
        them, which is not sku order when PostgreSQL picks a sequential or bitmap scan (physical
        order, which every update of a row changes): two holds could then wait on each other in
        a cycle (a CI run under load got "deadlock detected"). So the rows are locked first, in
        sku order, by :meth:`lock_stock`.
        """
        if not lines:
            return True
        skus = [sku for sku, _ in lines]
        await self.lock_stock(skus)
        wanted = case(dict(lines), value=Stock.sku)
        statement = (
            update(Stock)
            .where(Stock.sku.in_(skus), Stock.on_hand - Stock.reserved >= wanted)
            .values(reserved=Stock.reserved + wanted, version=Stock.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self.session.execute(statement)) == len(lines)

    async def lock_stock(self, skus: Iterable[str]) -> None:
        """Locks the skus' stock rows for this transaction in sku order, the one order every
        transaction that changes several stock rows takes them in (no cycle of waits). The
        database's order, not Python's: under a collation such as en_US ``sorted()`` differs
        (hyphens are ignored at first), so the per-sku loops lock through this first too.

        PostgreSQL sorts before it locks (``ORDER BY`` then ``FOR UPDATE``), whatever the scan;
        ``NO KEY UPDATE`` is the lock the UPDATE itself takes, no stronger. InnoDB locks in
        ``ORDER BY`` order too. SQLite has no row locks and one writer at a time: no statement.
        """
        ordered = sorted(set(skus))
        if len(ordered) < 2 or self.dialect == "sqlite":
            return  # one row cannot be taken out of order
        statement = select(Stock.sku).where(Stock.sku.in_(ordered)).order_by(Stock.sku).with_for_update(key_share=True)
        await self.session.execute(statement)

    async def adjust(self, sku: str, *, on_hand: int = 0, reserved: int = 0) -> None:
        """Adds the deltas to a row a reservation holds units of (commit, release, restock, expiry).

        Unconditional on purpose: the reservation's status transition (a conditional UPDATE that
        ran first, in this transaction) already guarantees the units are there; the CHECK
        constraints would fail the transaction if that reasoning were ever wrong.
        """
        statement = (
            update(Stock)
            .where(Stock.sku == sku)
            .values(
                on_hand=Stock.on_hand + on_hand,
                reserved=Stock.reserved + reserved,
                version=Stock.version + 1,
                updated_at=utcnow(),
            )
        )
        await self.session.execute(statement)

    # -- reservations ---------------------------------------------------------------------------

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        return await self.session.get(Reservation, reservation_id, populate_existing=True)

    async def items_of(self, reservation_id: str) -> list[ReservationItem]:
        statement = (
            select(ReservationItem)
            .where(ReservationItem.reservation_id == reservation_id)
            .order_by(ReservationItem.sku)
        )
        return list((await self.session.scalars(statement)).all())

    async def items_of_many(self, reservation_ids: Sequence[str]) -> dict[str, list[ReservationItem]]:
        statement = (
            select(ReservationItem)
            .where(ReservationItem.reservation_id.in_(reservation_ids))
            .order_by(ReservationItem.reservation_id, ReservationItem.sku)
        )
        found: dict[str, list[ReservationItem]] = {reservation_id: [] for reservation_id in reservation_ids}
        for item in (await self.session.scalars(statement)).all():
            found[item.reservation_id].append(item)
        return found

    async def insert_reservation(self, reservation: Reservation, items: Sequence[ReservationItem]) -> None:
        """Inserts the reservation row; a concurrent insert of the same id raises IntegrityError."""
        self.session.add(reservation)
        await self.session.flush()
        self.session.add_all(items)
        await self.session.flush()

    async def transition(self, reservation_id: str, *, from_status: str, to_status: str) -> bool:
        """Moves the reservation from ``from_status`` to ``to_status``; False if it was not in it."""
        statement = (
            update(Reservation)
            .where(Reservation.id == reservation_id, Reservation.status == from_status)
            .values(status=to_status, updated_at=utcnow())
        )
        return _rowcount(await self.session.execute(statement)) == 1

    async def claim_expired(self, now: datetime, limit: int) -> list[str]:
        """Ids of held reservations past their expiry, oldest first, locked for this transaction.

        ``SKIP LOCKED`` lets two sweeping replicas take disjoint batches instead of queueing on
        each other (SQLite has no row locks and ignores it; its single writer serialises them).
        The caller still moves each one with :meth:`transition`, so a reservation a concurrent
        commit took first is skipped rather than released.
        """
        statement = (
            select(Reservation.id)
            .where(Reservation.status == HELD, Reservation.expires_at <= now)
            .order_by(Reservation.expires_at, Reservation.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.scalars(statement)).all())
