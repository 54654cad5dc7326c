"""``SupportSettings``: the chat's limits and its real-time fan-out (``AGORA_SUPPORT_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class SupportSettings(ServiceSettings):
    service_name: ClassVar[str] = "support"

    port: int = Field(default=8115, ge=1, le=65535)

    message_max_length: int = Field(default=2000, ge=1, le=20_000)
    """Characters in one message (after surrounding blanks are stripped)."""
    message_rate: int = Field(default=10, ge=1, le=10_000)
    """Messages one user may send per ``message_rate_window_seconds`` (REST and WebSocket together)."""
    message_rate_window_seconds: int = Field(default=10, ge=1, le=3600)
    rate_limit_storage_url: str | None = None
    """``limits`` storage (``async+memory://``, ``async+redis://host:port/db``); unset: the platform's
    Redis when ``AGORA_REDIS_URL`` is set (replicas share counters), else process memory."""

    socket_queue_size: int = Field(default=100, ge=1, le=10_000)
    """Frames waiting for one slow WebSocket client before further ones are dropped."""
    socket_max_frame_bytes: int = Field(default=16_384, ge=256, le=1_048_576)
    """A larger client frame is answered with an error frame and ignored."""
    socket_max_subscriptions: int = Field(default=20, ge=1, le=1000)
    socket_max_per_user: int = Field(default=5, ge=1, le=1000)
    """Open sockets one user may hold in this process; one more is closed with 1013 (try again later)."""
    socket_max_total: int = Field(default=2000, ge=1, le=1_000_000)
    """Open sockets this process holds at most, all users together; one more is closed with 1013."""

    redis_prefix: str = Field(default="agora:support:", min_length=1, max_length=100)
    """Prefix of the pub/sub channel (``<prefix>fanout``) and of the rate-limit keys."""
    socket_allowed_origins: list[str] = Field(default_factory=list)
    """Origins (``https://shop.example.com``) allowed to open the WebSocket besides the service's own
    host; a browser page from any other origin is refused (cross-site WebSocket hijacking)."""
