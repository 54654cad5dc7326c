"""``NotificationsSettings``: SMTP, the recent cache and the mail sweep (``AGORA_NOTIFICATIONS_*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"

    port: int = Field(default=8109, ge=1, le=65535)

    smtp_host: str | None = None
    """The SMTP server; unset (embedded mode): each email is written to ``<data_dir>/mailbox/`` as an .eml file."""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Agora <no-reply@agora.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    public_url: str = Field(default="http://127.0.0.1:8000", min_length=1, max_length=300)
    """Where shoppers reach the shop: the base of the links emails carry (a password reset's)."""

    mail_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often pending emails are retried (each new one is sent at once after its event committed);
    up to 12 times longer while the retries send nothing (``notifications.MAIL_IDLE_FACTOR``)."""
    mail_batch_size: int = Field(default=50, ge=1, le=1000)
    mail_max_attempts: int = Field(default=5, ge=1, le=100)
    mail_claim_seconds: float = Field(default=300.0, gt=0, le=86_400)
    """A claimed email not sent within this time (its process died) may be claimed again."""

    recent_size: int = Field(default=20, ge=1, le=100)
    """Notifications per user kept in the cache (the first page of the list)."""
    recent_ttl_seconds: int = Field(default=3600, ge=1, le=86_400)
    recent_users: int = Field(default=10_000, ge=1, le=1_000_000)
    """Users kept by the in-process cache (LRU) when no Redis is configured."""

    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    stream_queue_size: int = Field(default=100, ge=1, le=10_000)
    stream_max_per_user: int = Field(default=5, ge=1, le=1000)
    """Open streams one user may hold in this process (tabs, devices); one more is a 429."""
    stream_max_total: int = Field(default=2000, ge=1, le=1_000_000)
    """Open streams this process holds at most, all users together; one more is a 429."""
    stream_retry_after_seconds: int = Field(default=10, ge=1, le=3600)
    """The ``Retry-After`` of a stream refused by a cap."""

    redis_prefix: str = Field(default="agora:notifications:", min_length=1, max_length=100)
    """Prefix of the Redis keys (recent lists) and of the pub/sub channel (``<prefix>push``)."""
