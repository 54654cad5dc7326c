"""What the support chat answers, pushes and publishes (topic ``support``).

REST under ``/api/support`` returns :class:`Conversation` and :class:`Message` documents; the
WebSocket ``/api/support/ws`` carries the frames named by the ``FRAME_*`` constants (see
``docs/support.md`` for the protocol); ``support.message.posted`` carries :class:`MessagePosted`.

Compatibility rule: fields are only ever added (with defaults); consumers ignore fields they do
not know (``extra="ignore"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agora.contracts.base import Event

#: Event types, stable strings (topic ``support``).
MESSAGE_POSTED = "support.message.posted"

#: The CloudEvents ``source`` of every support event.
SOURCE = "agora/support"

#: Who wrote a message: the conversation's customer, or a support agent (role support or admin).
AuthorRole = Literal["customer", "agent"]
Status = Literal["open", "closed"]

#: WebSocket frame types. Client → server: subscribe, unsubscribe, message, read, ping.
#: Server → client: subscribed, unsubscribed, message, sent, read, inbox, closed, error, pong.
FRAME_SUBSCRIBE = "subscribe"
FRAME_UNSUBSCRIBE = "unsubscribe"
FRAME_SUBSCRIBED = "subscribed"
FRAME_UNSUBSCRIBED = "unsubscribed"
FRAME_MESSAGE = "message"
FRAME_SENT = "sent"
FRAME_READ = "read"
FRAME_INBOX = "inbox"
FRAME_CLOSED = "closed"
FRAME_ERROR = "error"
FRAME_PING = "ping"
FRAME_PONG = "pong"
#: What an agent subscribes to for every conversation's news.
INBOX = "inbox"

#: WebSocket close codes: no or bad credentials; credentials that may not use the chat.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
#: RFC 6455 "Try Again Later": a cap on open sockets (per user, or of the process) refused this one.
CLOSE_TRY_AGAIN_LATER = 1013

#: How much of a message body ``support.message.posted`` carries (consumers need a preview, not the chat).
EXCERPT_LENGTH = 200


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Conversation(_Contract):
    id: str
    customer_id: str
    customer_name: str | None = None
    customer_email: str | None = None
    subject: str | None = None
    status: Status
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None
    message_count: int
    customer_unread: int
    """Agent messages the customer has not read."""
    agent_unread: int
    """Customer messages no agent has read."""
    unread: int | None = None
    """The caller's own side of the two counts (lists and single reads only, not pushes)."""


class Message(_Contract):
    id: str
    conversation_id: str
    seq: int
    """1, 2, 3... within the conversation: the order of the history."""
    author_id: str
    author_role: AuthorRole
    body: str
    created_at: datetime


class ConversationPage(_Contract):
    items: list[Conversation]
    next_cursor: str | None = None


class MessagePage(_Contract):
    items: list[Message]
    next_cursor: str | None = None


class MessagePosted(Event):
    """``support.message.posted``: a message was stored (after its transaction committed)."""

    event_type: ClassVar[str] = MESSAGE_POSTED

    conversation_id: str
    message_id: str
    seq: int
    customer_id: str
    author_id: str
    author_role: AuthorRole
    excerpt: str
    """The first ``EXCERPT_LENGTH`` characters of the body."""
    created_at: datetime
