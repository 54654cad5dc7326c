"""The rules of notifications: one notification per (order, kind), the owner's list, read marks.

Flushes, never commits: consumers commit in the inbox transaction, requests in the request
session. What must happen only once the change committed (drop the cached first page, push to
open streams, send the email) is returned to the caller as a :class:`Created` and run by the
caller after the commit (see :mod:`.handlers`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import NotFoundError
from agora.platform.http.pagination import Cursors
from agora.services.notifications.cache import Recent, RecentCache
from agora.services.notifications.models import PENDING, Email, Notification
from agora.services.notifications.rendering import PASSWORD_RESET, Facts, Rendered, email_text, render
from agora.services.notifications.repository import NotificationsRepository

CURSOR_LIST = "notifications"


class NotificationNotFoundError(NotFoundError):
    field = "notification_id"


@dataclass(frozen=True)
class Created:
    user_id: str
    document: dict[str, Any]
    email_id: str | None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    unread_count: int


def notification_document(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "order_id": notification.order_id,
        "created_at": iso_utc(notification.created_at),
        "read_at": iso_utc(notification.read_at),
    }


class NotificationsService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = NotificationsRepository(session)

    async def record(self, kind: str, user_id: str, facts: Facts, *, email: bool) -> Created | None:
        """Stores the notification of ``kind`` about ``facts.order_id`` (and its pending email when
        ``email``); None when that fact was already recorded. Email and notification are separate:
        the order event that owns the email may arrive after another service's event told the fact."""
        rendered = render(kind, facts)
        created: Notification | None = None
        if not await self.repository.exists(facts.order_id, kind):
            created = Notification(
                id=str(uuid.uuid4()),
                user_id=user_id,
                kind=kind,
                title=rendered.title,
                body=rendered.body,
                order_id=facts.order_id,
                created_at=utcnow(),
            )
            self.session.add(created)
        email_id: str | None = None
        if email and not await self.repository.email_exists(facts.order_id, kind):
            email_id = str(uuid.uuid4())
            self.session.add(
                Email(
                    id=email_id,
                    user_id=user_id,
                    order_id=facts.order_id,
                    kind=kind,
                    subject=rendered.title,
                    body=email_text(rendered, reference=facts.order_id),
                    status=PENDING,
                    attempts=0,
                    created_at=utcnow(),
                )
            )
        await self.session.flush()
        if created is None and email_id is None:
            return None
        document = notification_document(created) if created is not None else {}
        return Created(user_id=user_id, document=document, email_id=email_id)

    async def record_password_reset(self, reset_id: str, user_id: str, rendered: Rendered) -> Created | None:
        """The pending password reset email (once per reset, keyed like an order's emails)."""
        if await self.repository.email_exists(reset_id, PASSWORD_RESET):
            return None
        email_id = str(uuid.uuid4())
        self.session.add(
            Email(
                id=email_id,
                user_id=user_id,
                order_id=reset_id,
                kind=PASSWORD_RESET,
                subject=rendered.title,
                body=email_text(rendered),
                status=PENDING,
                attempts=0,
                created_at=utcnow(),
            )
        )
        await self.session.flush()
        return Created(user_id=user_id, document={}, email_id=email_id)

    async def owner_of_order(self, order_id: str) -> str | None:
        return await self.repository.owner_of_order(order_id)

    async def page(
        self, user_id: str, *, limit: int, cursor: str | None, cursors: Cursors, cache: RecentCache, recent_size: int
    ) -> Page:
        """Newest first; the first page from the recent cache when it fits in it. A refused cursor
        is the chassis's 422 naming ``query.cursor``."""
        if cursor is None and limit <= recent_size:
            recent = await cache.get(user_id)
            if recent is None:
                rows = await self.repository.page(user_id, after=None, limit=recent_size + 1)
                recent = Recent(
                    items=[notification_document(row) for row in rows[:recent_size]],
                    more=len(rows) > recent_size,
                    unread_count=await self.repository.unread_count(user_id),
                )
                await cache.put(user_id, recent)
            items = recent.items[:limit]
            more = len(recent.items) > limit or recent.more
            next_cursor = cursors.encode(_key(items[-1]), of=CURSOR_LIST, u=user_id) if more and items else None
            return Page(items, next_cursor, recent.unread_count)
        after = cursors.decode(cursor, tuple[datetime, str], of=CURSOR_LIST, u=user_id)
        rows = await self.repository.page(user_id, after=after, limit=limit + 1)
        documents = [notification_document(row) for row in rows]
        items, next_cursor = cursors.page(documents, limit, _key, of=CURSOR_LIST, u=user_id)
        return Page(items, next_cursor, await self.repository.unread_count(user_id))

    async def mark_read(self, user_id: str, notification_id: str) -> dict[str, Any]:
        notification = await self.repository.owned(user_id, notification_id)
        if notification is None:  # another user's is as absent as a missing one
            raise NotificationNotFoundError("No such notification.")
        if notification.read_at is None:
            await self.repository.mark_read(notification_id, utcnow())
            await self.session.refresh(notification)
        return notification_document(notification)

    async def mark_all_read(self, user_id: str) -> int:
        return await self.repository.mark_all_read(user_id, utcnow())


def _key(document: dict[str, Any]) -> tuple[str, str]:
    """A notification's place in its list: (created_at, id), newest first."""
    return document["created_at"], document["id"]


__all__ = [
    "Created",
    "NotificationNotFoundError",
    "NotificationsService",
    "Page",
    "notification_document",
]
