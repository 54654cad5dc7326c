"""Response models of notifications (documentation of the answers; the routes write JSON directly)."""

from __future__ import annotations

from pydantic import BaseModel

from agora.contracts.notifications import Notification, NotificationPage


class ReadAllOut(BaseModel):
    updated: int
    """How many notifications this call marked read."""
    unread_count: int


__all__ = ["Notification", "NotificationPage", "ReadAllOut"]
