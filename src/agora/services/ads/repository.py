"""Every query of the ads service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.ads.models import Ad

#: Selection ranks in memory; a store with more servable ads than this ranks the newest ones.
MAX_SERVABLE = 2000


class AdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def servable(self, now: datetime) -> Sequence[Ad]:
        """Active ads whose dates include ``now`` (a missing bound is open)."""
        statement = (
            select(Ad)
            .where(
                Ad.active.is_(True),
                or_(Ad.starts_at.is_(None), Ad.starts_at <= now),
                or_(Ad.ends_at.is_(None), Ad.ends_at > now),
            )
            .order_by(Ad.created_at.desc(), Ad.id.desc())
            .limit(MAX_SERVABLE)
        )
        return (await self.session.scalars(statement)).all()

    async def get(self, ad_id: str) -> Ad | None:
        return await self.session.get(Ad, ad_id)

    async def get_for_update(self, ad_id: str) -> Ad | None:
        statement = select(Ad).where(Ad.id == ad_id).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def page(self, *, limit: int, after: tuple[datetime, str] | None) -> Sequence[Ad]:
        """Every ad, inactive ones included, newest first (keyset on created_at, id)."""
        statement = select(Ad).order_by(Ad.created_at.desc(), Ad.id.desc()).limit(limit)
        if after is not None:
            created_at, ad_id = after
            statement = statement.where(
                or_(Ad.created_at < created_at, and_(Ad.created_at == created_at, Ad.id < ad_id))
            )
        return (await self.session.scalars(statement)).all()

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return set((await self.session.scalars(select(Ad.id).where(Ad.id.in_(ids)))).all())

    async def add(self, ad: Ad) -> None:
        self.session.add(ad)
        await self.session.flush()

    async def delete(self, ad: Ad) -> None:
        await self.session.delete(ad)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()
