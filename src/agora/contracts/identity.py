"""What identity publishes: event types and their payloads (topic ``identity``).

Payloads carry ids plus the facts a consumer needs (a notifier can greet a new user from
``identity.user.registered`` alone). Never a password, a hash or a token. Fields are only ever
added, with defaults; consumers ignore fields they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

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

SOURCE = "agora/identity"

Role = Literal["customer", "support", "admin"]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class UserRegistered(_Contract):
    user_id: str
    email: str
    display_name: str
    role: Role
    registered_at: datetime


class UserUpdated(_Contract):
    user_id: str
    role: Role
    is_active: bool
    changed_by: str


__all__ = [
    "SESSION_REVOKED",
    "SOURCE",
    "USER_DISABLED",
    "USER_REGISTERED",
    "USER_UPDATED",
    "Revocations",
    "Role",
    "SessionRevoked",
    "UserDisabled",
    "UserRegistered",
    "UserUpdated",
]
