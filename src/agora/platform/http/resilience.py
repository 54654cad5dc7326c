"""Circuit breaking and bounded retries for calls between services.

The breaker is written here rather than taken from a library: the maintained Python breakers
(pybreaker, circuitbreaker) are built around synchronous calls or decorators and their async
support is partial or unmaintained (aiobreaker has been dormant for years), while what we need
fits in a page and must take an injectable clock so tests never sleep.

Retries use tenacity: bounded attempts, full-jitter exponential backoff (a delay drawn uniformly
from ``[0, min(cap, base * 2**attempt)]``, which spreads a thundering herd best), and only for
idempotent methods and failures that say "try again": connection errors, timeouts, 502/503/504.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from agora.platform.observability.metrics import circuit_breaker_state

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class BreakerState(enum.IntEnum):
    """The value is what the ``agora_circuit_breaker_state`` gauge shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitOpenError(Exception):
    """The target failed repeatedly; calls fail fast until the breaker lets a trial through."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit to {name!r} is open; next trial in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures -> half-open once
    ``reset_timeout`` seconds have passed, letting exactly one trial call through -> closed if it
    succeeds, open again (for another ``reset_timeout``) if it fails.

    Use :meth:`acquire` before a call and then exactly one of :meth:`record_success` or
    :meth:`record_failure` (or :meth:`release` if the call ended without a verdict, e.g. it was
    cancelled), or let :meth:`call` do that bookkeeping.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._gauge = circuit_breaker_state.labels(target=name)
        self._gauge.set(BreakerState.CLOSED)

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose timeout has passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._set_state(BreakerState.HALF_OPEN)
        return self._state

    def acquire(self) -> None:
        """Ask to make a call; raises :class:`CircuitOpenError` when the call must not happen."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        retry_after = max(0.0, self._opened_at + self.reset_timeout - self._clock())
        raise CircuitOpenError(self.name, retry_after)

    def record_success(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        if self._state is not BreakerState.CLOSED:
            self._set_state(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._trial_in_flight = False
        if self._state is BreakerState.HALF_OPEN:
            self._trip()
            return
        self._failures += 1
        if self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
            self._trip()

    def release(self) -> None:
        """Give back a half-open trial slot without a verdict (the call was cancelled)."""
        self._trial_in_flight = False

    async def call(self, func: Callable[[], Awaitable[T]], *, is_failure: Callable[[T], bool] = lambda _: False) -> T:
        """Run ``func`` under the breaker; an exception or ``is_failure(result)`` counts against it."""
        self.acquire()
        try:
            result = await func()
        except Exception:
            self.record_failure()
            raise
        except BaseException:
            self.release()
            raise
        if is_failure(result):
            self.record_failure()
        else:
            self.record_success()
        return result

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._set_state(BreakerState.OPEN)

    def _set_state(self, state: BreakerState) -> None:
        self._state = state
        self._gauge.set(state)


def is_retryable_exception(exc: BaseException) -> bool:
    """Failures where the request can be sent again: nothing was received, or it timed out."""
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol)


def is_retryable_response(response: httpx.Response) -> bool:
    return response.status_code in RETRYABLE_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry an idempotent call.

    ``sleep`` is injectable so tests can record the backoff delays instead of waiting for them.
    """

    attempts: int = 3
    backoff_base: float = 0.1
    backoff_cap: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


async def _close_discarded(retry_state: RetryCallState) -> None:
    # A response we are about to retry past is dropped; release its connection now.
    outcome = retry_state.outcome
    if outcome is not None and not outcome.failed:
        response = outcome.result()
        if isinstance(response, httpx.Response):
            await response.aclose()


async def retry_idempotent(
    method: str,
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    policy: RetryPolicy | None = None,
) -> httpx.Response:
    """Call ``send`` once, or up to ``policy.attempts`` times if ``method`` is idempotent.

    After the last attempt the last response (say, a 503) is returned and the last exception is
    re-raised as is, so callers see the same types whether or not retries happened.
    ``CircuitOpenError`` is never retried: the breaker has already decided.
    """
    policy = policy or RetryPolicy()
    if method.upper() not in IDEMPOTENT_METHODS or policy.attempts == 1:
        return await send()
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_cap),
        retry=retry_if_exception(is_retryable_exception) | retry_if_result(is_retryable_response),
        sleep=policy.sleep,
        before_sleep=_close_discarded,
        reraise=True,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    response: httpx.Response = await retrying(send)
    return response


__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "RetryPolicy",
    "is_retryable_exception",
    "is_retryable_response",
    "retry_idempotent",
]
