"""Every query of the currency service (one small table: no visibility rules to apply)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.currency.models import Rate


class RateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[Rate]:
        return (await self.session.scalars(select(Rate).order_by(Rate.code))).all()

    async def get_for_update(self, code: str) -> Rate | None:
        # the row lock orders concurrent updates of one rate, so each event's previous rate is right
        # (SQLite ignores FOR UPDATE; its single writer serialises them anyway)
        statement = select(Rate).where(Rate.code == code).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def add(self, rate: Rate) -> None:
        self.session.add(rate)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()
