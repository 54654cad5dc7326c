"""Notifications' tables: ``notifications`` and ``emails``.

One notification per (order, kind) and one email per (order, kind): unique keys, so a fact
reported twice (by two services, or by a redelivered event the inbox somehow missed) is stored
and mailed once. ``(user_id, created_at)`` is indexed for the newest-first list.

An email row is written in the same transaction as its notification (status ``pending``) and
sent after that transaction committed; ``sent`` records that it left, so nothing resends it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
KIND_LENGTH = 32
TITLE_LENGTH = 200
ADDRESS_LENGTH = 254

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        UniqueConstraint("order_id", "kind"),
    )


class Email(Base):
    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    subject: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        Index("ix_emails_status_created", "status", "created_at"),
    )


metadata = Base.metadata
