"""``IdentitySettings``: token lifetimes and password-hashing cost, from ``AGORA_IDENTITY_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"

    port: int = Field(default=8102, ge=1, le=65535)

    access_token_ttl_seconds: int = Field(default=600, ge=300, le=900)
    """Access tokens live 5-15 minutes: short enough that a disabled user's token dies soon."""
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=3600, le=90 * 24 * 3600)
    password_reset_ttl_seconds: int = Field(default=30 * 60, ge=300, le=24 * 3600)
    """How long a password reset link works (once)."""

    # argon2id cost; the floors are OWASP's minimum recommendation (m=19 MiB, t=2, p=1)
    argon2_memory_kib: int = Field(default=19_456, ge=19_456, le=1_048_576)
    argon2_time_cost: int = Field(default=2, ge=2, le=20)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    # hashing off the event loop (passwords.py): hashes at once, and how many more may wait how long
    password_hash_threads: int | None = Field(default=None, ge=1, le=64)
    """Hashes computed at once (each holds ``argon2_memory_kib``); unset: the CPUs but one, 1 to 4."""
    password_hash_queue: int = Field(default=64, ge=0, le=10_000)
    """Logins and registrations that may wait for a hash; one more is answered 503 with Retry-After."""
    password_hash_wait_seconds: float = Field(default=10.0, gt=0, le=120)
    """How long one may wait for a hash before it is answered 503 with Retry-After."""

    # login throttling (policy in throttle.py); AGORA_IDENTITY_THROTTLE_STORAGE_URL beats AGORA_REDIS_URL
    throttle_storage_url: str | None = None
    """``async+memory://`` or ``async+redis://host:port/db``; unset: Redis at AGORA_REDIS_URL if set, else memory."""
    throttle_key_prefix: str = Field(default="agora-identity-throttle", min_length=1, max_length=100)
    throttle_window_seconds: int = Field(default=900, ge=1, le=86_400)
    throttle_account_failures: int = Field(default=5, ge=1, le=1_000)
    throttle_address_failures: int = Field(default=20, ge=1, le=100_000)
    throttle_known_address_days: int = Field(default=30, ge=0, le=365)
    """An address that logged in to an account within this many days escapes that account's lockout (0: never)."""
    throttle_reset_account_requests: int = Field(default=3, ge=1, le=1_000)
    """Password reset requests per email in a throttle window (each may send an email)."""
    throttle_reset_address_requests: int = Field(default=20, ge=1, le=100_000)
    """Password reset requests per client address in a throttle window, for any emails."""
