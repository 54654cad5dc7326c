"""Every payments query.

Charges are visible only to services and admins (the route guards), so there is no per-user
visibility to apply; every read starts from :meth:`PaymentsRepository._charges` all the same,
which joins the refund so a charge document is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.payments.models import CAPTURED, REFUNDED, Charge, Refund


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended: its last charge's ``created_at`` and id (newest first)."""

    created_at: datetime
    id: str


class PaymentsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _charges(self) -> Select[Charge]:
        return select(Charge)

    async def get_charge(self, charge_id: str, *, fresh: bool = False) -> Charge | None:
        statement = self._charges().where(Charge.id == charge_id)
        if fresh:  # after a conditional UPDATE, the identity map may hold the old status
            statement = statement.execution_options(populate_existing=True)
        return (await self.session.scalars(statement)).unique().first()

    async def captured_charge_for_order(self, order_id: str) -> Charge | None:
        statement = self._charges().where(Charge.captured_order_id == order_id)
        return (await self.session.scalars(statement)).unique().first()

    async def list_charges(self, *, order_id: str | None, limit: int, after: Keyset | None) -> Sequence[Charge]:
        statement = self._charges()
        if order_id is not None:
            statement = statement.where(Charge.order_id == order_id)
        if after is not None:
            statement = statement.where(
                or_(
                    Charge.created_at < after.created_at,
                    and_(Charge.created_at == after.created_at, Charge.id < after.id),
                )
            )
        statement = statement.order_by(Charge.created_at.desc(), Charge.id.desc()).limit(limit)
        return list((await self.session.scalars(statement)).unique())

    async def add(self, row: Charge | Refund) -> None:
        self.session.add(row)
        await self.session.flush()

    async def mark_refunded(self, charge_id: str, now: datetime) -> bool:
        """Move a captured charge to refunded, atomically: False when it was not captured.

        A conditional UPDATE, and the first statement of its transaction: two concurrent refunds
        cannot both win, on every database (SQLite ignores ``FOR UPDATE``, and a write-first
        transaction there waits for the lock instead of failing to upgrade a read).
        """
        result = await self.session.execute(
            update(Charge)
            .where(Charge.id == charge_id, Charge.status == CAPTURED)
            .values(status=REFUNDED, captured_order_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
