"""Carts in SQL: :class:`SqlCartStore`, every query on ``cart_items``, inside the caller's transaction.

The store only flushes; the request's session dependency commits (the one commit point), so a
request that fails after a write leaves the cart as it was. An add or a set is one upsert (each
dialect's ``ON CONFLICT`` / ``ON DUPLICATE KEY``) in a savepoint; the row is then locked, so the
bound check that follows sees every concurrent add that committed before and blocks the ones
after: two concurrent adds cannot together pass the quantity bound. A refused write rolls back
its savepoint only.

The line bound counts the lines this transaction can see; concurrent adds of *different* new
products to one cart could overshoot it by the number of concurrent requests. A cart belongs to
one visitor, so this is accepted rather than serialised with a lock.

Expiry: a cart whose newest line changed longer ago than its TTL is deleted by the periodic
sweep (:func:`~agora.services.cart.service.sweep_expired`); Redis expires keys by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db.types import utcnow
from agora.services.cart.models import CartItem
from agora.services.cart.store import Bound, LimitExceededError, Limits, Line

#: Owners deleted per statement by the expiry sweep (keeps IN lists and lock sets small).
SWEEP_BATCH = 500


def _line_of(owner: str, product_id: str) -> Any:
    return (CartItem.owner == owner) & (CartItem.product_id == product_id)


class SqlCartStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lines(self, owner: str) -> list[Line]:
        statement = (
            select(CartItem.product_id, CartItem.quantity)
            .where(CartItem.owner == owner)
            .order_by(CartItem.added_at, CartItem.product_id)
        )
        return [Line(row.product_id, row.quantity) for row in await self.session.execute(statement)]

    async def _quantity(self, owner: str, product_id: str) -> int | None:
        return await self.session.scalar(select(CartItem.quantity).where(_line_of(owner, product_id)))

    async def _line_count(self, owner: str) -> int:
        return int(await self.session.scalar(select(func.count()).where(CartItem.owner == owner)) or 0)

    def _upsert(self, owner: str, product_id: str, quantity: int, *, add: bool, bare: bool = False) -> Any:
        """One statement that inserts the line or, when it exists, adds to (or sets) its quantity.

        Each dialect's own upsert: the row is locked exclusively from the start, so concurrent
        first adds of one product neither fail on the primary key nor deadlock (InnoDB's
        duplicate-key path takes a shared lock and then upgrades it, which deadlocks two inserters).
        """
        now = utcnow()
        values = {"owner": owner, "product_id": product_id, "quantity": quantity, "added_at": now, "updated_at": now}
        dialect = self.session.get_bind().dialect.name
        if dialect in ("mysql", "mariadb"):
            statement = mysql_insert(CartItem).values(**values)
            new = statement.inserted.quantity
            return statement.on_duplicate_key_update(
                quantity=CartItem.quantity + new if add else new, updated_at=statement.inserted.updated_at
            )
        upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(CartItem).values(**values)
        if bare:
            return upsert
        excluded = upsert.excluded
        return upsert.on_conflict_do_update(
            index_elements=[CartItem.owner, CartItem.product_id],
            set_={
                "quantity": CartItem.quantity + excluded.quantity if add else excluded.quantity,
                "updated_at": excluded.updated_at,
            },
        )

    async def _write(self, owner: str, product_id: str, quantity: int, limits: Limits, *, add: bool) -> int:
        """Upserts in a savepoint, then checks the bounds on what it wrote (the row is locked by
        now); a broken bound rolls the savepoint back, so nothing changed."""
        existed = None if add else await self._quantity(owner, product_id)
        async with self.session.begin_nested():
            await self.session.execute(self._upsert(owner, product_id, quantity, add=add))
            total = int(await self._quantity(owner, product_id) or 0)
            if total > limits.max_quantity:
                raise LimitExceededError(Bound.quantity, total - quantity if add else 0)
            new_line = total == quantity if add else existed is None
            if new_line:
                lines = await self._line_count(owner)
                if lines > limits.max_lines:
                    raise LimitExceededError(Bound.lines, lines - 1)
        return total

    async def add(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        if self.session.get_bind().dialect.name in ("mysql", "mariadb"):
            # MariaDB has no ON DUPLICATE KEY UPDATE ... RETURNING: the savepoint path
            return await self._write(owner, product_id, quantity, limits, add=True)
        return await self._add_returning(owner, product_id, quantity, limits)

    async def _add_returning(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        """An add in two statements, where the savepoint path takes four or five.

        One read checks the bounds against the cart as it is (the line's quantity and the line
        count); then one upsert adds and returns the line's quantity. The upsert only updates an
        existing line while the sum stays within ``max_quantity``, a condition checked on the
        locked row, so concurrent adds cannot together pass it; no row back means a concurrent
        add got there first. Concurrent adds of different new products may overshoot the line
        bound, as the module says. On SQLite only the upsert runs inside the write gate (a read
        takes no gate), so each writer holds it for fewer thread hand-offs.
        """
        statement = select(
            func.count(), func.sum(case((CartItem.product_id == product_id, CartItem.quantity), else_=None))
        ).where(CartItem.owner == owner)
        lines, existing = (await self.session.execute(statement)).one()
        if existing is None and lines >= limits.max_lines:
            raise LimitExceededError(Bound.lines, int(lines))
        if (existing or 0) + quantity > limits.max_quantity:
            raise LimitExceededError(Bound.quantity, int(existing or 0))
        upsert = self._upsert(owner, product_id, quantity, add=True, bare=True)
        upsert = upsert.on_conflict_do_update(
            index_elements=[CartItem.owner, CartItem.product_id],
            set_={"quantity": CartItem.quantity + upsert.excluded.quantity, "updated_at": upsert.excluded.updated_at},
            where=CartItem.quantity + upsert.excluded.quantity <= limits.max_quantity,
        ).returning(CartItem.quantity)
        total = await self.session.scalar(upsert)
        if total is None:  # a concurrent add took the line past what this one may add
            raise LimitExceededError(Bound.quantity, int(await self._quantity(owner, product_id) or 0))
        return int(total)

    async def put(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        return await self._write(owner, product_id, quantity, limits, add=False)

    async def remove(self, owner: str, product_id: str, limits: Limits) -> bool:
        result = await self.session.execute(delete(CartItem).where(_line_of(owner, product_id)))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def clear(self, owner: str) -> int:
        result = await self.session.execute(delete(CartItem).where(CartItem.owner == owner))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def merge(self, source: str, target: str, limits: Limits) -> int:
        incoming = await self.lines(source)
        if not incoming or source == target:
            return 0
        existing = {line.product_id: line.quantity for line in await self.lines(target)}
        now = utcnow()
        moved = 0
        for line in incoming:
            if line.product_id in existing:
                total = min(existing[line.product_id] + line.quantity, limits.max_quantity)
                await self.session.execute(
                    update(CartItem)
                    .where(_line_of(target, line.product_id))
                    .values(quantity=total, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            elif len(existing) < limits.max_lines:
                existing[line.product_id] = line.quantity
                await self.session.execute(
                    insert(CartItem).values(
                        owner=target,
                        product_id=line.product_id,
                        quantity=min(line.quantity, limits.max_quantity),
                        added_at=now,
                        updated_at=now,
                    )
                )
            else:
                continue
            moved += 1
        await self.clear(source)
        return moved

    # -- expiry ---------------------------------------------------------------------------------

    async def expired_owners(self, prefix: str, cutoff: datetime, *, limit: int = SWEEP_BATCH) -> list[str]:
        """Owners starting with ``prefix`` whose newest change is older than ``cutoff``."""
        statement = (
            select(CartItem.owner)
            .where(CartItem.owner.startswith(prefix, autoescape=True))
            .group_by(CartItem.owner)
            .having(func.max(CartItem.updated_at) < cutoff)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def delete_owners(self, owners: list[str]) -> int:
        if not owners:
            return 0
        result = await self.session.execute(delete(CartItem).where(CartItem.owner.in_(owners)))
        return int(result.rowcount)  # type: ignore[attr-defined]


__all__ = ["SqlCartStore"]
