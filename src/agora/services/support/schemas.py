"""Request and response models of support (the routes write JSON documents directly; these
document the answers and validate what comes in, over REST and over the WebSocket alike)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from agora.contracts.support import Conversation, ConversationPage, Message, MessagePage
from agora.platform.validation import OneLine, TextBlock

#: The hard ceiling of a message before stripping; ``AGORA_SUPPORT_MESSAGE_MAX_LENGTH`` (2000 by
#: default) is checked after stripping by the endpoint and the socket.
BODY_CEILING = 20_000


def _stripped_nonblank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


#: the default per-message bound, which the document states (the configured one is checked later)
DEFAULT_MESSAGE_MAX_LENGTH = 2000
Body = Annotated[
    StrictStr,
    Field(min_length=1, max_length=BODY_CEILING, json_schema_extra={"maxLength": DEFAULT_MESSAGE_MAX_LENGTH}),
    TextBlock,
    AfterValidator(_stripped_nonblank),
]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Body
    """1 to 2000 characters (surrounding blanks removed); newlines and tabs allowed."""


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[StrictStr, Field(max_length=200), OneLine] | None = None
    """What the chat is about (optional; e.g. the page or order it was opened from)."""


class ReadOut(BaseModel):
    conversation_id: str
    side: Literal["customer", "agent"]
    read_seq: int
    unread: int


__all__ = [
    "BODY_CEILING",
    "Conversation",
    "ConversationIn",
    "ConversationPage",
    "Message",
    "MessageIn",
    "MessagePage",
    "ReadOut",
]
