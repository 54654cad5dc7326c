"""Carts in SQL: :class:`SqlCartStore`, every query on ``cart_items``, inside the caller's transaction.

The store only flushes; the request's session dependency commits (the one commit point), so a
request that fails after a write leaves the cart as it was. Bounds are checked in the same
statement as the write where concurrency could break them: an add is one conditional UPDATE
(``... WHERE quantity + :n <= :max``), so two concurrent adds cannot together pass the bound.
Two concurrent first inserts of the same line collide on the primary key: the loser's insert
runs in a savepoint, is rolled back alone, and the add is retried as an UPDATE.

The line bound is a count before an insert; concurrent adds of *different* new products to one
cart could overshoot it by the number of concurrent requests. A cart belongs to one visitor,
so this is accepted rather than serialised with a lock.

Expiry: a cart whose newest line changed longer ago than its TTL is deleted by
:meth:`delete_expired`, which the service runs periodically (Redis expires keys by itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
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

    async def _insert(self, owner: str, product_id: str, quantity: int, limits: Limits) -> bool:
        """Inserts a new line within the line bound; False when a concurrent insert won the race."""
        lines = await self._line_count(owner)
        if lines >= limits.max_lines:
            raise LimitExceededError(Bound.lines, lines)
        now = utcnow()
        values = {"owner": owner, "product_id": product_id, "quantity": quantity, "added_at": now, "updated_at": now}
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(CartItem).values(**values))
        except IntegrityError:
            return False
        return True

    async def add(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        for _ in range(2):  # the second round follows a lost insert race
            bumped = await self.session.execute(
                update(CartItem)
                .where(_line_of(owner, product_id), CartItem.quantity + quantity <= limits.max_quantity)
                .values(quantity=CartItem.quantity + quantity, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if bumped.rowcount == 1:  # type: ignore[attr-defined]
                return int(await self._quantity(owner, product_id) or 0)
            current = await self._quantity(owner, product_id)
            if current is not None or quantity > limits.max_quantity:
                raise LimitExceededError(Bound.quantity, current or 0)
            if await self._insert(owner, product_id, quantity, limits):
                return quantity
        raise LimitExceededError(Bound.quantity, int(await self._quantity(owner, product_id) or 0))

    async def put(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        for _ in range(2):
            changed = await self.session.execute(
                update(CartItem)
                .where(_line_of(owner, product_id))
                .values(quantity=quantity, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                return quantity
            if await self._insert(owner, product_id, quantity, limits):
                return quantity
        return quantity  # unreachable in practice: the racing insert's row is there to update

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
