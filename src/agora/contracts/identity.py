"""What identity publishes: event types and their payloads (topic ``identity``).

Payloads carry ids plus the facts a consumer needs (a notifier can greet a new user from
``identity.user.registered`` alone). Never a password, a hash or a token. Fields are only ever
added, with defaults; consumers ignore fields they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from agora.contracts.base import Contract, Event

# Ending sessions is the chassis's protocol (every service's verifier applies these events), so
# its events are defined there and re-exported here with identity's other contracts.
from agora.platform.auth.revocations import (
    SESSION_REVOKED,
    USER_DISABLED,
    Revocations,
    SessionRevoked,
    UserDisabled,
)

USER_REGISTERED = "identity.user.registered"
USER_UPDATED = "identity.user.updated"
"""An admin changed a user's role or active flag."""
PASSWORD_RESET_REQUESTED = "identity.password_reset.requested"  # noqa: S105 - an event name
"""A customer asked for a password reset link; notifications emails it."""

SOURCE = "agora/identity"

Role = Literal["customer", "support", "admin"]


class UserRegistered(Event):
    event_type: ClassVar[str] = USER_REGISTERED

    user_id: str
    email: str
    display_name: str
    role: Role
    registered_at: datetime


class UserUpdated(Event):
    event_type: ClassVar[str] = USER_UPDATED

    user_id: str
    role: Role
    is_active: bool
    changed_by: str


class PasswordResetRequested(Event):
    """``identity.password_reset.requested``: email ``token`` (single use, until ``expires_at``) to
    the user as a link to ``/reset-password``. Identity keeps only the token's hash; the event is
    the one way the secret reaches the mailbox, and it is worthless once used or expired."""

    event_type: ClassVar[str] = PASSWORD_RESET_REQUESTED

    reset_id: str
    user_id: str
    token: str
    expires_at: datetime


class UserContact(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``GET /api/identity/internal/users/{user_id}`` (service role): where and how to write to a
    user (notifications, at send time). Never cached nor kept by the caller."""

    id: str
    email: str
    display_name: str | None = None


__all__ = [
    "PASSWORD_RESET_REQUESTED",
    "SESSION_REVOKED",
    "SOURCE",
    "USER_DISABLED",
    "USER_REGISTERED",
    "USER_UPDATED",
    "PasswordResetRequested",
    "Revocations",
    "Role",
    "SessionRevoked",
    "UserContact",
    "UserDisabled",
    "UserRegistered",
    "UserUpdated",
]
