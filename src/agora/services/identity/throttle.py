"""Login throttling: failed logins counted per account and per client address (``limits``).

Policy (every number is an :class:`IdentitySettings` field, ``AGORA_IDENTITY_THROTTLE_*``):

* **Per account** (normalised email, from any address): at most ``throttle_account_failures``
  (5) failed logins in a moving window of ``throttle_window_seconds`` (15 minutes). Once the
  window is full, logins for that account answer 429 with ``Retry-After`` until the oldest
  failure leaves the window. The slot is taken *before* the password is verified (atomically,
  so concurrent guesses cannot overshoot), and a successful login gives it back (the counter is
  cleared).
* **Per client address** (``request.client.host``; ``X-Forwarded-For`` is not read here: the
  server believes it from ``AGORA_TRUSTED_PROXIES`` only, and the chassis's in-process transport
  from the web's own calls, which forward their visitor's address): at most
  ``throttle_address_failures`` (20) failed logins per window, for any accounts, then 429.
* A throttled request never verifies the password, never succeeds and is **not counted**, so
  hammering does not extend a lockout: it ends at most one window after the last real guess.
* **Known addresses**: an address that logged in to the account successfully within
  ``throttle_known_address_days`` is not held back by the account-wide counter but by its own
  (account, address) counter with the same limit. An attacker elsewhere can therefore never lock
  the real user out of the places they already use, while each known address still gets only
  the account limit of guesses. (Behind a proxy that hides client addresses everyone shares one
  address: the account limit still holds, the exemption merely does not help.)

Password reset requests (``POST /password-reset``) are throttled over the same storage and window,
counting every request, since each one may send an email: at most ``throttle_reset_account_requests``
(3) per account (the normalised email, whether or not an account has it, so the answer still
says nothing about which accounts exist) and ``throttle_reset_address_requests`` (20) per client
address, then 429 with ``Retry-After``; a refused request is not counted.

Storage: ``throttle_storage_url`` when set (``async+memory://``, ``async+redis://host:port/db``),
else Redis at the platform's ``AGORA_REDIS_URL`` when that is set (so replicas share counters),
else process memory (embedded mode). Counter keys hold SHA-256 digests, never emails or
addresses. A storage failure is not swallowed: the login answers a retryable 503 rather than
run unthrottled, and everything else in identity keeps working.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import structlog
from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from agora.platform.http.problems import ProblemError, ServiceUnavailable
from agora.platform.limits_storage import limits_storage
from agora.platform.ratelimit import MEMORY, limits_storage_url
from agora.platform.settings import PlatformSettings
from agora.services.identity.schemas import normalise_email
from agora.services.identity.service import AuthenticationError
from agora.services.identity.settings import IdentitySettings

log = structlog.get_logger(__name__)

THROTTLED = "Too many failed logins; try again later."
RESETS_THROTTLED = "Too many password reset requests; try again later."


@dataclass(frozen=True)
class ThrottlePolicy:
    account_failures: int = 5
    address_failures: int = 20
    window_seconds: int = 900
    known_address_days: int = 30
    reset_account_requests: int = 3
    reset_address_requests: int = 20

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> ThrottlePolicy:
        return cls(
            account_failures=settings.throttle_account_failures,
            address_failures=settings.throttle_address_failures,
            window_seconds=settings.throttle_window_seconds,
            known_address_days=settings.throttle_known_address_days,
            reset_account_requests=settings.throttle_reset_account_requests,
            reset_address_requests=settings.throttle_reset_address_requests,
        )


class Throttled(ProblemError):
    """429 problem with ``Retry-After`` (whole seconds, at least 1)."""

    status = 429

    def __init__(self, retry_after: int, detail: str = THROTTLED) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"})
        self.retry_after = retry_after


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def account_key(email: str) -> str:
    try:
        normalised = normalise_email(email)
    except ValueError:
        normalised = email.strip().lower()
    return digest(normalised)


class _Guarded:
    """The limiter, with any storage failure turned into a 503 for the login that needed it."""

    def __init__(self, limiter: MovingWindowRateLimiter) -> None:
        self._limiter = limiter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._limiter, name)

        async def call(*args: Any) -> Any:
            try:
                return await method(*args)
            except Exception as exc:  # the storage's own errors (coredis, memory) share no base class
                log.warning("login_throttle_unavailable", error=type(exc).__name__)
                raise ServiceUnavailable(
                    "Signing in is unavailable for a moment; try again shortly.", headers={"Retry-After": "1"}
                ) from None

        return call


class _MemoryStorage(MemoryStorage):
    """``limits``' in-process storage, with a ``clear`` that cannot crash its expiry task.

    The storage expires entries in a background task that snapshots the keys and then, key by
    key, awaits a worker thread before reading ``self.events[key]``. Its ``clear`` deletes the
    key outright, so a login that succeeds (and clears its counter) while that task is between
    keys makes it die with a ``KeyError``, logged by asyncio as "Task exception was never
    retrieved" at error level on nearly every login (limits 5.8; the upstream code still reads
    this way). Here ``clear`` empties the key's entries under the key's own lock instead: the
    key stays for the expiry task, which drops keys whose entries are empty.
    """

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            async with self.locks[key]:
                self.events[key] = []


def _storage(url: str, key_prefix: str) -> Any:
    if url.startswith(MEMORY):
        return _MemoryStorage(url)
    return limits_storage(url, key_prefix=key_prefix)


class LoginThrottle:
    """The counters of the module's policy. Its storage is opened on first use: with Redis, that
    imports redis-py (~7 MiB), which a replica that has served no login yet does without."""

    def __init__(self, url: str, policy: ThrottlePolicy, *, key_prefix: str = "agora-identity-throttle") -> None:
        self.url = url
        self.key_prefix = key_prefix
        self.policy = policy
        window = policy.window_seconds
        self.account = RateLimitItemPerSecond(policy.account_failures, window, namespace="login-account")
        self.pair = RateLimitItemPerSecond(policy.account_failures, window, namespace="login-pair")
        self.address = RateLimitItemPerSecond(policy.address_failures, window, namespace="login-address")
        self.known = RateLimitItemPerSecond(1, max(policy.known_address_days, 1) * 86_400, namespace="login-known")
        self.reset_account = RateLimitItemPerSecond(policy.reset_account_requests, window, namespace="reset-account")
        self.reset_address = RateLimitItemPerSecond(policy.reset_address_requests, window, namespace="reset-address")

    @cached_property
    def storage(self) -> Any:
        return _storage(self.url, self.key_prefix)

    @cached_property
    def limiter(self) -> _Guarded:
        return _Guarded(MovingWindowRateLimiter(self.storage))

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = await self.limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(float(stats.reset_time) - time.time()))

    @asynccontextmanager
    async def attempt(self, email: str, address: str) -> AsyncIterator[None]:
        """Guards one login: raises :class:`Throttled` on entry, counts an ``AuthenticationError``."""
        account, client = account_key(email), digest(address)
        known = self.policy.known_address_days > 0 and not await self.limiter.test(self.known, account, client)
        item, ids = (self.pair, (account, client)) if known else (self.account, (account,))
        if not await self.limiter.test(self.address, client):
            raise Throttled(await self._retry_after(self.address, client))
        # take the account slot before verifying: concurrent guesses cannot all pass a check
        if not await self.limiter.hit(item, *ids):
            raise Throttled(await self._retry_after(item, *ids))
        try:
            yield
        except AuthenticationError:
            await self.limiter.hit(self.address, client)
            raise
        await self.limiter.clear(item, *ids)
        if self.policy.known_address_days > 0:
            # restart the known-address period from this login
            await self.limiter.clear(self.known, account, client)
            await self.limiter.hit(self.known, account, client)

    async def reset_requested(self, email: str, address: str) -> None:
        """Counts one password reset request; raises :class:`Throttled` (not counting it) past a limit."""
        account, client = account_key(email), digest(address)
        if not await self.limiter.test(self.reset_account, account):
            raise Throttled(await self._retry_after(self.reset_account, account), RESETS_THROTTLED)
        if not await self.limiter.hit(self.reset_address, client):
            raise Throttled(await self._retry_after(self.reset_address, client), RESETS_THROTTLED)
        # taken atomically: of concurrent requests for one account only its limit get through
        if not await self.limiter.hit(self.reset_account, account):
            raise Throttled(await self._retry_after(self.reset_account, account), RESETS_THROTTLED)


def build_throttle(settings: IdentitySettings, platform: PlatformSettings) -> LoginThrottle:
    """The running service's throttle: its counters where the chassis keeps rate limits (the
    setting, else the platform's Redis, else memory)."""
    return LoginThrottle(
        limits_storage_url(settings.throttle_storage_url, platform.redis_url),
        ThrottlePolicy.from_settings(settings),
        key_prefix=settings.throttle_key_prefix,
    )


def client_address(request: Request) -> str:
    """What the address counters count (``request.client``, see the module doc)."""
    return request.client.host if request.client else "unknown"
