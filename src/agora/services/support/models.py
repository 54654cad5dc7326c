"""Support's tables: ``conversations`` and ``messages``.

Each message gets the next ``seq`` of its conversation (``conversations.last_seq`` is bumped by an
atomic UPDATE, which also serialises concurrent posts to one conversation); ``(conversation_id,
seq)`` is unique and orders the history.

Read markers live on the conversation, one per reader side: ``customer_read_seq`` (the customer)
and ``agent_read_seq`` (any agent: the support team reads as one). The unread counters
``customer_unread`` (agent messages past the customer's marker) and ``agent_unread`` (customer
messages past the agents' marker) are kept by the same UPDATEs that move ``last_seq`` and the
markers, so the inbox lists them without counting rows.

``open_customer_id`` is the customer's id while the conversation is open and NULL once closed:
its unique index allows one open conversation per customer even when two requests race to open
one (NULLs never collide on SQLite, PostgreSQL or MariaDB).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
USER_ID_LENGTH = 64
NAME_LENGTH = 200
EMAIL_LENGTH = 254
SUBJECT_LENGTH = 200

OPEN = "open"
CLOSED = "closed"
CUSTOMER: Final = "customer"
AGENT: Final = "agent"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH))
    customer_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(SUBJECT_LENGTH), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    open_customer_id: Mapped[str | None] = mapped_column(String(USER_ID_LENGTH), nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    customer_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    agent_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    customer_unread: Mapped[int] = mapped_column(Integer, default=0)
    agent_unread: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("open_customer_id"),
        Index("ix_conversations_customer_updated", "customer_id", "updated_at"),
        Index("ix_conversations_status_updated", "status", "updated_at"),
        Index("ix_conversations_updated", "updated_at"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str] = mapped_column(String(USER_ID_LENGTH))
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)


metadata = Base.metadata
