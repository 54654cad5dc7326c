"""Every query of notifications; the lists start from the owner's rows only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.notifications.models import PENDING, SENDING, Email, Notification


class NotificationsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _of(self, user_id: str) -> Select[Notification]:
        return select(Notification).where(Notification.user_id == user_id)

    async def page(self, user_id: str, *, after: tuple[datetime, str] | None, limit: int) -> list[Notification]:
        statement = self._of(user_id)
        if after is not None:
            created_at, notification_id = after
            statement = statement.where(
                or_(
                    Notification.created_at < created_at,
                    and_(Notification.created_at == created_at, Notification.id < notification_id),
                )
            )
        statement = statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        return list((await self.session.scalars(statement)).all())

    async def unread_count(self, user_id: str) -> int:
        statement = select(func.count()).select_from(Notification)
        statement = statement.where(Notification.user_id == user_id, Notification.read_at.is_(None))
        return int(await self.session.scalar(statement) or 0)

    async def owned(self, user_id: str, notification_id: str) -> Notification | None:
        statement = self._of(user_id).where(Notification.id == notification_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def exists(self, order_id: str, kind: str) -> bool:
        statement = select(Notification.id).where(Notification.order_id == order_id, Notification.kind == kind)
        return (await self.session.scalar(statement)) is not None

    async def owner_of_order(self, order_id: str) -> str | None:
        """The user an order belongs to, from any notification about it (shipping events carry no user)."""
        statement = select(Notification.user_id).where(Notification.order_id == order_id).limit(1)
        return await self.session.scalar(statement)

    async def email_exists(self, order_id: str, kind: str) -> bool:
        statement = select(Email.id).where(Email.order_id == order_id, Email.kind == kind)
        return (await self.session.scalar(statement)) is not None

    async def mark_read(self, notification_id: str, now: datetime) -> None:
        statement = update(Notification).where(Notification.id == notification_id, Notification.read_at.is_(None))
        await self.session.execute(statement.values(read_at=now))

    async def mark_all_read(self, user_id: str, now: datetime) -> int:
        statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        result = await self.session.execute(statement.values(read_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- emails ------------------------------------------------------------------------------------

    async def due_emails(self, *, stale_before: datetime, limit: int) -> Sequence[str]:
        statement = (
            select(Email.id)
            .where(or_(Email.status == PENDING, and_(Email.status == SENDING, Email.claimed_at < stale_before)))
            .order_by(Email.created_at)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def claim_email(self, email_id: str, *, now: datetime, stale_before: datetime) -> bool:
        """PENDING (or a stale SENDING) → SENDING; False when another sender has it."""
        statement = (
            update(Email)
            .where(
                Email.id == email_id,
                or_(Email.status == PENDING, and_(Email.status == SENDING, Email.claimed_at < stale_before)),
            )
            .values(status=SENDING, claimed_at=now, attempts=Email.attempts + 1)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def email(self, email_id: str) -> Email | None:
        return await self.session.get(Email, email_id)
