"""The login throttle's policy on memory storage, without HTTP (long windows: nothing expires)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage, RedisStorage

from agora.platform.settings import PlatformSettings
from agora.services.identity.service import AuthenticationError
from agora.services.identity.settings import IdentitySettings
from agora.services.identity.throttle import (
    MEMORY,
    LoginThrottle,
    Throttled,
    ThrottlePolicy,
    account_key,
    build_throttle,
    digest,
)

POLICY = ThrottlePolicy(account_failures=3, address_failures=5, window_seconds=600, known_address_days=30)


async def fail(throttle: LoginThrottle, email: str, address: str) -> None:
    with pytest.raises(AuthenticationError):
        async with throttle.attempt(email, address):
            raise AuthenticationError("wrong")


async def succeed(throttle: LoginThrottle, email: str, address: str) -> None:
    async with throttle.attempt(email, address):
        pass


async def throttled(throttle: LoginThrottle, email: str, address: str) -> Throttled:
    with pytest.raises(Throttled) as caught:
        async with throttle.attempt(email, address):
            raise AssertionError("a throttled attempt must not reach the password check")
    return caught.value


async def test_the_account_is_throttled_after_its_failures_from_any_address() -> None:
    throttle = LoginThrottle(MEMORY, POLICY)
    for n in range(3):
        await fail(throttle, "ada@example.com", f"10.0.0.{n}")
    error = await throttled(throttle, "ADA@example.com ", "10.0.0.9")
    assert error.status == 429
    assert 1 <= error.retry_after <= 600
    assert error.headers["Retry-After"] == str(error.retry_after)
    await succeed(throttle, "grace@example.com", "10.0.0.9")  # another account is unaffected


async def test_a_success_clears_the_account_failures() -> None:
    throttle = LoginThrottle(MEMORY, POLICY)
    await fail(throttle, "ada@example.com", "10.0.0.1")
    await fail(throttle, "ada@example.com", "10.0.0.2")
    await succeed(throttle, "ada@example.com", "10.0.0.3")
    for n in range(3):
        await fail(throttle, "ada@example.com", f"10.0.1.{n}")
    await throttled(throttle, "ada@example.com", "10.0.1.9")


async def test_throttled_attempts_are_not_counted() -> None:
    throttle = LoginThrottle(MEMORY, POLICY)
    for n in range(3):
        await fail(throttle, "ada@example.com", "10.0.0.1")
    for _ in range(10):
        await throttled(throttle, "ada@example.com", "10.0.0.1")
    stats = await throttle.limiter.get_window_stats(throttle.account, account_key("ada@example.com"))
    assert stats.remaining == 0
    address = await throttle.limiter.get_window_stats(throttle.address, digest("10.0.0.1"))
    assert address.remaining == POLICY.address_failures - 3


async def test_the_address_is_throttled_across_accounts() -> None:
    throttle = LoginThrottle(MEMORY, POLICY)
    for n in range(5):
        await fail(throttle, f"user{n}@example.com", "10.0.0.1")
    await throttled(throttle, "someone-else@example.com", "10.0.0.1")
    await succeed(throttle, "someone-else@example.com", "10.0.0.2")


async def test_a_known_address_has_its_own_counter() -> None:
    throttle = LoginThrottle(MEMORY, POLICY)
    await succeed(throttle, "ada@example.com", "10.9.9.9")
    for n in range(3):
        await fail(throttle, "ada@example.com", f"10.0.0.{n}")
    await throttled(throttle, "ada@example.com", "10.0.0.99")
    await succeed(throttle, "ada@example.com", "10.9.9.9")
    for _ in range(3):
        await fail(throttle, "ada@example.com", "10.9.9.9")
    await throttled(throttle, "ada@example.com", "10.9.9.9")


async def test_no_known_addresses_when_disabled() -> None:
    throttle = LoginThrottle(MEMORY, ThrottlePolicy(account_failures=2, known_address_days=0))
    await succeed(throttle, "ada@example.com", "10.9.9.9")
    await fail(throttle, "ada@example.com", "10.0.0.1")
    await fail(throttle, "ada@example.com", "10.0.0.2")
    await throttled(throttle, "ada@example.com", "10.9.9.9")


async def _success_while_the_storage_expires_entries() -> list[dict[str, Any]]:
    """One successful login while the memory storage's expiry task walks the keys; returns what
    reached the loop's exception handler."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    release = threading.Event()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))  # the expiry task's worker threads
    throttle = LoginThrottle(MEMORY, POLICY)
    await fail(throttle, "grace@example.com", "10.0.0.1")  # keys the expiry task walks before ada's
    if throttle.storage.timer is not None:
        await throttle.storage.timer
    busy = loop.run_in_executor(None, release.wait)  # the pool is busy (password hashing, image decoding ...)
    async with throttle.attempt("ada@example.com", "10.0.0.2"):
        await asyncio.sleep(0)  # the password check awaits: the expiry task starts its walk, and waits for the pool
        release.set()
    # the success cleared ada's counter while the walk was still to reach it
    expiry = throttle.storage.timer
    await busy
    await asyncio.wait([expiry])
    del expiry, throttle
    gc.collect()  # a task's unretrieved exception is reported when the task is collected
    return unhandled


def test_a_success_while_entries_expire_leaves_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """Regression: limits' memory storage deleted a cleared key under its running expiry task,
    which died with a KeyError that asyncio logged at error level ("Task exception was never
    retrieved"). Its own event loop, so the pool of one worker stays this test's."""
    caplog.set_level(logging.ERROR)
    assert asyncio.run(_success_while_the_storage_expires_entries()) == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_account_keys_use_the_normalised_email_and_hide_it() -> None:
    assert account_key("  Ada@Example.COM ") == account_key("ada@example.com")
    assert "ada" not in account_key("ada@example.com")
    assert account_key("not an email") == account_key("NOT AN EMAIL")


@pytest.mark.parametrize(
    ("configured", "redis_url", "storage"),
    [
        (None, None, MemoryStorage),
        (None, "redis://127.0.0.1:6379/0", RedisStorage),
        ("async+memory://", "redis://127.0.0.1:6379/0", MemoryStorage),
    ],
)
def test_the_counters_live_where_the_chassis_puts_rate_limits(
    configured: str | None, redis_url: str | None, storage: type
) -> None:
    """The setting, else the platform's Redis, else memory: the chassis's ``limits_storage_url``."""
    throttle = build_throttle(IdentitySettings(throttle_storage_url=configured), PlatformSettings(redis_url=redis_url))
    assert "storage" not in vars(throttle), "the storage (redis-py with Redis) opens on first use"
    assert isinstance(throttle.storage, storage)


async def test_password_reset_requests_are_counted_per_account_and_per_address() -> None:
    policy = ThrottlePolicy(reset_account_requests=2, reset_address_requests=3, window_seconds=600)
    throttle = LoginThrottle(MEMORY, policy)
    await throttle.reset_requested("ada@example.com", "10.0.0.1")
    await throttle.reset_requested("ADA@example.com", "10.0.0.2")
    with pytest.raises(Throttled) as caught:
        await throttle.reset_requested("ada@example.com", "10.0.0.3")
    assert 1 <= caught.value.retry_after <= 600
    await throttle.reset_requested("grace@example.com", "10.0.0.1")  # 10.0.0.1's second
    await throttle.reset_requested("alan@example.com", "10.0.0.1")  # and third
    with pytest.raises(Throttled):
        await throttle.reset_requested("edsger@example.com", "10.0.0.1")
    # refused requests are not counted: edsger still has both of his
    await throttle.reset_requested("edsger@example.com", "10.0.0.4")
    await throttle.reset_requested("edsger@example.com", "10.0.0.5")
