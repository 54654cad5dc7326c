"""The rules of the support chat: who sees a conversation, one open conversation per customer,
message numbering, read markers and unread counts, and the event a message publishes.

Flushes, never commits: the request session (REST) or the socket's unit of work commits. What
must happen only after the commit (the push to open sockets, the metric) is returned as a
:class:`Posted` / document for the caller to hand on once the transaction committed.

Visibility: a conversation is seen by its customer and by agents (roles support and admin);
anybody else is told it does not exist (404), so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.support import EXCERPT_LENGTH, AuthorRole, MessagePosted
from agora.platform.auth import Subject
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError, ServiceError
from agora.platform.http.pagination import Cursors
from agora.platform.messaging import Outbox
from agora.services.support.auth import CUSTOMER_ROLE, is_agent
from agora.services.support.models import AGENT, CUSTOMER, OPEN, Conversation, Message
from agora.services.support.repository import SupportRepository

CURSOR_CONVERSATIONS = "support.conversations"
CURSOR_MESSAGES = "support.messages"


class ConversationNotFoundError(NotFoundError):
    field = "conversation_id"


class ConversationClosedError(ConflictError):
    field = "conversation_id"


class NotACustomerError(ServiceError):
    status = 403
    field = "role"


@dataclass(frozen=True)
class Posted:
    message: dict[str, Any]
    conversation: dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def conversation_document(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "customer_id": conversation.customer_id,
        "customer_name": conversation.customer_name,
        "customer_email": conversation.customer_email,
        "subject": conversation.subject,
        "status": conversation.status,
        "created_at": iso_utc(conversation.created_at),
        "updated_at": iso_utc(conversation.updated_at),
        "last_message_at": iso_utc(conversation.last_message_at),
        "message_count": conversation.last_seq,
        "customer_unread": conversation.customer_unread,
        "agent_unread": conversation.agent_unread,
    }


def message_document(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "author_id": message.author_id,
        "author_role": message.author_role,
        "body": message.body,
        "created_at": iso_utc(message.created_at),
    }


def side_of(subject: Subject) -> AuthorRole:
    """Which reader side the caller is: ``agent`` (support, admin) or ``customer``."""
    return AGENT if is_agent(subject) else CUSTOMER


def for_viewer(document: dict[str, Any], subject: Subject) -> dict[str, Any]:
    """The conversation with ``unread`` = the caller's own side's count."""
    unread = document["agent_unread"] if side_of(subject) == AGENT else document["customer_unread"]
    return {**document, "unread": unread}


def _text_claim(claims: dict[str, Any], *names: str, limit: int) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:limit]
    return None


class SupportService:
    def __init__(self, session: AsyncSession, *, events: Outbox, viewer: Subject) -> None:
        self.session = session
        self.events = events
        self.viewer = viewer
        self.agent = is_agent(viewer)
        self.repository = SupportRepository(session)

    async def conversation(self, conversation_id: str) -> Conversation:
        conversation = await self.repository.conversation(conversation_id, self.viewer.id, agent=self.agent)
        if conversation is None:  # another customer's is as absent as a missing one
            raise ConversationNotFoundError("No such conversation.")
        return conversation

    async def open(self, subject: str | None) -> tuple[Conversation, bool]:
        """The caller's open conversation, or a new one: (conversation, created)."""
        if not self.viewer.has_role(CUSTOMER_ROLE):
            raise NotACustomerError("Only customers open support conversations; agents answer them.")
        existing = await self.repository.open_of(self.viewer.id)
        if existing is not None:
            return existing, False
        now = utcnow()
        claims = self.viewer.claims
        conversation = Conversation(
            id=str(uuid.uuid4()),
            customer_id=self.viewer.id,
            customer_name=_text_claim(claims, "name", "display_name", limit=200),
            customer_email=_text_claim(claims, "email", limit=254),
            subject=subject,
            status=OPEN,
            open_customer_id=self.viewer.id,
            last_seq=0,
            customer_read_seq=0,
            agent_read_seq=0,
            customer_unread=0,
            agent_unread=0,
            created_at=now,
            updated_at=now,
        )
        self.session.add(conversation)
        try:
            await self.session.flush()
        except IntegrityError:
            # a concurrent request opened one first (and committed: the insert waited for it);
            # nothing else of ours is written yet, so start over and answer with theirs
            await self.session.rollback()
            existing = await self.repository.open_of(self.viewer.id)
            if existing is None:
                raise
            return existing, False
        return conversation, True

    async def page(self, *, status: str | None, limit: int, cursor: str | None, cursors: Cursors) -> Page:
        """Newest activity first; a refused cursor is the chassis's 422 naming ``query.cursor``."""
        owner = "*" if self.agent else self.viewer.id
        scope = {"u": owner, "s": status}
        after = cursors.decode(cursor, tuple[datetime, str], of=CURSOR_CONVERSATIONS, **scope)
        rows = await self.repository.page(self.viewer.id, agent=self.agent, status=status, after=after, limit=limit + 1)
        shown, next_cursor = cursors.page(
            rows, limit, lambda row: (iso_utc(row.updated_at), row.id), of=CURSOR_CONVERSATIONS, **scope
        )
        return Page([for_viewer(conversation_document(row), self.viewer) for row in shown], next_cursor)

    async def messages(self, conversation_id: str, *, limit: int, cursor: str | None, cursors: Cursors) -> Page:
        """The history, oldest first; ``next_cursor`` continues after the last message returned."""
        await self.conversation(conversation_id)
        after = cursors.decode(cursor, tuple[int], of=CURSOR_MESSAGES, c=conversation_id)
        after_seq = after[0] if after is not None else 0
        rows = await self.repository.messages(conversation_id, after_seq=after_seq, limit=limit + 1)
        shown, next_cursor = cursors.page(rows, limit, lambda row: (row.seq,), of=CURSOR_MESSAGES, c=conversation_id)
        return Page([message_document(row) for row in shown], next_cursor)

    async def post(self, conversation_id: str, body: str) -> Posted:
        """Stores a message (``body`` already validated) and its ``support.message.posted`` event."""
        conversation = await self.conversation(conversation_id)
        role = side_of(self.viewer)
        now = utcnow()
        seq = await self.repository.next_seq(conversation.id, author_role=role, now=now)
        if seq is None:
            raise ConversationClosedError("This conversation is closed; open a new one.")
        message = Message(
            id=str(uuid.uuid4()),
            conversation_id=conversation.id,
            seq=seq,
            author_id=self.viewer.id,
            author_role=role,
            body=body,
            created_at=now,
        )
        self.session.add(message)
        await self.session.flush()
        await self.session.refresh(conversation)
        event = MessagePosted(
            conversation_id=conversation.id,
            message_id=message.id,
            seq=seq,
            customer_id=conversation.customer_id,
            author_id=self.viewer.id,
            author_role=role,
            excerpt=body[:EXCERPT_LENGTH],
            created_at=now,
        )
        await self.events.add(self.session, event, subject=conversation.id, key=conversation.id)
        return Posted(message_document(message), conversation_document(conversation))

    async def read(self, conversation_id: str) -> dict[str, Any]:
        """Marks everything in the conversation read for the caller's side; returns the conversation."""
        conversation = await self.conversation(conversation_id)
        await self.repository.mark_read(conversation.id, side=side_of(self.viewer))
        await self.session.refresh(conversation)
        return conversation_document(conversation)

    async def close(self, conversation_id: str) -> dict[str, Any]:
        """Closes the conversation (idempotent); the customer's next ``open`` starts a new one."""
        conversation = await self.conversation(conversation_id)
        if await self.repository.close(conversation.id, now=utcnow()):
            await self.session.refresh(conversation)
        return conversation_document(conversation)


__all__ = [
    "ConversationClosedError",
    "ConversationNotFoundError",
    "NotACustomerError",
    "Page",
    "Posted",
    "SupportService",
    "conversation_document",
    "for_viewer",
    "message_document",
    "side_of",
]
