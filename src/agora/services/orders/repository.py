"""Every orders query.

Reads start from :meth:`OrdersRepository._orders`, which applies the caller's visibility (a
customer sees their own orders only; admins and the saga see all), so "user A cannot read user
B's order" is enforced in one place.

Writes to an existing order are conditional UPDATEs: :meth:`update` changes the row only if it
still has the ``version`` the writer read (and, for a status change, a status the transition may
start from), bumps the version and says whether it won. Every saga step and every status change
goes through it, so a process that lost its lease, or an admin racing a customer, cannot
overwrite what someone else already moved on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, event, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.payments import REASON_CARD_DECLINED
from agora.platform.db.types import utcnow
from agora.services.orders.metrics import orders_total
from agora.services.orders.models import Order, OrderItem


class OrdersRepository:
    def __init__(self, session: AsyncSession, *, visible_to: str | None = None) -> None:
        """``visible_to``: a user id to restrict every read to that user's orders (None: all)."""
        self.session = session
        self.visible_to = visible_to

    def _orders(self) -> Select[Order]:
        statement = select(Order)
        if self.visible_to is not None:
            statement = statement.where(Order.user_id == self.visible_to)
        return statement

    async def get(self, order_id: str) -> Order | None:
        result = await self.session.execute(self._orders().where(Order.id == order_id))
        return result.scalars().first()

    async def by_idempotency_key(self, user_id: str, key: str) -> Order | None:
        """The newest order a checkout with this key created (a retry after a 5xx may add one)."""
        statement = (
            self._orders()
            .where(Order.user_id == user_id, Order.idempotency_key == key)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def page(self, *, user_id: str | None, after: tuple[datetime, str] | None, limit: int) -> list[Order]:
        """Newest first; ``after`` is the previous page's last (created_at, id).

        A customer's page (``user_id``) leaves out checkouts their card declined: the checkout page
        told them at once and nothing was charged, so there is no order to show; the admin's page
        (``user_id=None``) keeps every attempt."""
        statement = self._orders()
        if user_id is not None:
            declined = and_(Order.status == "failed", Order.failure_code == REASON_CARD_DECLINED)
            statement = statement.where(Order.user_id == user_id, or_(Order.failure_code.is_(None), not_(declined)))
        if after is not None:
            created_at, order_id = after
            statement = statement.where(
                or_(Order.created_at < created_at, and_(Order.created_at == created_at, Order.id < order_id))
            )
        statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def due_for_recovery(self, now: datetime, limit: int) -> list[Order]:
        """Unfinished sagas whose owner's lease lapsed (finished ones have no lease)."""
        statement = (
            select(Order)
            .where(Order.lease_until.is_not(None), Order.lease_until < now)
            .order_by(Order.lease_until)
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars())

    async def add(self, order: Order) -> None:
        self.session.add(order)
        await self.session.flush()
        self._count_status_after_commit(order.status)

    async def add_items(self, items: Iterable[OrderItem]) -> None:
        self.session.add_all(items)
        await self.session.flush()

    async def update(
        self,
        order_id: str,
        *,
        version: int,
        statuses: Collection[str] | None = None,
        **values: Any,
    ) -> bool:
        """Set ``values`` if the row still has ``version`` (and one of ``statuses``); True if it did."""
        statement = update(Order).where(Order.id == order_id, Order.version == version)
        if statuses is not None:
            statement = statement.where(Order.status.in_(list(statuses)))
        statement = statement.values(version=Order.version + 1, updated_at=values.pop("updated_at", utcnow()), **values)
        result = await self.session.execute(statement.execution_options(synchronize_session=False))
        won = bool(getattr(result, "rowcount", 0) == 1)
        if won and "status" in values:
            self._count_status_after_commit(values["status"])
        return won

    def _count_status_after_commit(self, status: str) -> None:
        """``agora_orders_total{status}`` counts the change once it committed (a rolled-back one never)."""
        counter = orders_total.labels(status)
        event.listen(self.session.sync_session, "after_commit", lambda _session: counter.inc(), once=True)

    async def count(self, **filters: Any) -> int:
        statement = select(func.count()).select_from(Order)
        for name, value in filters.items():
            statement = statement.where(getattr(Order, name) == value)
        return int((await self.session.execute(statement)).scalar_one())


__all__ = ["OrdersRepository"]
