"""Every query analytics runs. Time ranges are half-open ``[start, end)`` in UTC."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.analytics.models import Activity, OrderFact, OrderFactLine


class AnalyticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def order(self, order_id: str) -> OrderFact | None:
        return await self.session.get(OrderFact, order_id)

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def has_lines(self, order_id: str) -> bool:
        statement = select(func.count()).select_from(OrderFactLine).where(OrderFactLine.order_id == order_id)
        return bool(await self.session.scalar(statement))

    async def bulk(self, table: Any, rows: Sequence[dict[str, Any]], chunk: int = 1000) -> None:
        for start in range(0, len(rows), chunk):
            await self.session.execute(insert(table), list(rows[start : start + chunk]))

    async def any_demo(self) -> bool:
        return (
            await self.session.scalar(select(OrderFact.order_id).where(OrderFact.demo.is_(True)).limit(1))
        ) is not None

    async def paid_orders(self, start: datetime, end: datetime) -> list[tuple[OrderFact, list[OrderFactLine]]]:
        """Paid orders (not cancelled since) paid in the range, with their lines."""
        facts = (
            await self.session.scalars(
                select(OrderFact).where(
                    OrderFact.paid_at >= start,
                    OrderFact.paid_at < end,
                    OrderFact.cancelled_at.is_(None),
                    OrderFact.total.is_not(None),
                )
            )
        ).all()
        lines: dict[str, list[OrderFactLine]] = defaultdict(list)
        if facts:
            statement = (
                select(OrderFactLine)
                .join(OrderFact, OrderFact.order_id == OrderFactLine.order_id)
                .where(OrderFact.paid_at >= start, OrderFact.paid_at < end, OrderFact.cancelled_at.is_(None))
                .order_by(OrderFactLine.order_id, OrderFactLine.position)
            )
            for line in (await self.session.scalars(statement)).all():
                lines[line.order_id].append(line)
        return [(fact, lines[fact.order_id]) for fact in facts]

    async def activity(self, kind: str, start: datetime, end: datetime) -> int:
        statement = select(func.coalesce(func.sum(Activity.weight), 0)).where(
            Activity.kind == kind, Activity.occurred_at >= start, Activity.occurred_at < end
        )
        return int(await self.session.scalar(statement) or 0)

    async def checkouts(self, start: datetime, end: datetime) -> int:
        statement = select(func.count()).where(OrderFact.checkout_at >= start, OrderFact.checkout_at < end)
        return int(await self.session.scalar(statement) or 0)

    async def paid_count(self, start: datetime, end: datetime) -> int:
        statement = select(func.count()).where(OrderFact.paid_at >= start, OrderFact.paid_at < end)
        return int(await self.session.scalar(statement) or 0)

    async def product_known(self, product_id: str) -> bool:
        statement = select(OrderFactLine.order_id).where(OrderFactLine.product_id == product_id).limit(1)
        return (await self.session.scalar(statement)) is not None

    async def product_sales(self, product_id: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """(paid_at, quantity) of the product's lines in orders paid in the range and not cancelled."""
        statement = (
            select(OrderFact.paid_at, OrderFactLine.quantity)
            .join(OrderFact, OrderFact.order_id == OrderFactLine.order_id)
            .where(
                OrderFactLine.product_id == product_id,
                OrderFact.paid_at >= start,
                OrderFact.paid_at < end,
                OrderFact.cancelled_at.is_(None),
            )
        )
        return [(row.paid_at, row.quantity) for row in (await self.session.execute(statement)).all()]

    async def priced_orders(self, start: datetime, end: datetime) -> Sequence[OrderFact]:
        """Orders with a total whose checkout ended in the range (failed checkouts have none)."""
        statement = (
            select(OrderFact)
            .where(OrderFact.checkout_at >= start, OrderFact.checkout_at < end, OrderFact.total.is_not(None))
            .order_by(OrderFact.checkout_at, OrderFact.order_id)
        )
        return (await self.session.scalars(statement)).all()
