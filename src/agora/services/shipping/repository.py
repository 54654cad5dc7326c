"""Every shipping query. Shipments are internal (services and admins only), so there is no
per-customer visibility to apply: the route guard is the whole rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.shipping.models import Shipment


class ShipmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, shipment_id: str, *, for_update: bool = False) -> Shipment | None:
        statement = select(Shipment).where(Shipment.id == shipment_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def by_order(self, order_id: str) -> Shipment | None:
        return (await self.session.scalars(select(Shipment).where(Shipment.order_id == order_id))).one_or_none()

    async def page(self, *, limit: int, after: tuple[datetime, str] | None) -> Sequence[Shipment]:
        """Newest first by (created_at, id), starting after the keyset ``after``."""
        statement = select(Shipment).order_by(Shipment.created_at.desc(), Shipment.id.desc()).limit(limit)
        if after is not None:
            created_at, shipment_id = after
            statement = statement.where(
                or_(
                    Shipment.created_at < created_at,
                    and_(Shipment.created_at == created_at, Shipment.id < shipment_id),
                )
            )
        return (await self.session.scalars(statement)).all()

    async def add(self, shipment: Shipment) -> None:
        self.session.add(shipment)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()
