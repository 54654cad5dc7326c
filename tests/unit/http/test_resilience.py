"""Circuit breaker state machine (fake clock) and idempotent-only retries (fake sleep)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from agora.platform.http.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    RetryPolicy,
    retry_idempotent,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value("agora_circuit_breaker_state", {"target": name})


def test_breaker_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("rb-open", failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        breaker.acquire()
        breaker.record_failure()
    breaker.acquire()
    breaker.record_success()  # a success resets the count: failures must be consecutive
    for _ in range(2):
        breaker.acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert gauge("rb-open") == 1
    clock.now += 4
    with pytest.raises(CircuitOpenError) as caught:
        breaker.acquire()
    assert caught.value.retry_after == pytest.approx(6)


def test_half_open_allows_one_trial_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("rb-half", failure_threshold=1, reset_timeout=10, clock=clock)
    breaker.acquire()
    breaker.record_failure()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert gauge("rb-half") == 2
    breaker.acquire()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.acquire()  # a second caller while the trial runs
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert gauge("rb-half") == 0
    breaker.acquire()


def test_failed_trial_reopens_for_a_full_timeout() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("rb-reopen", failure_threshold=2, reset_timeout=10, clock=clock)
    for _ in range(2):
        breaker.acquire()
        breaker.record_failure()
    clock.now += 10
    breaker.acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 9.9
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    clock.now += 0.1
    breaker.acquire()


def test_cancelled_trial_gives_its_slot_back() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("rb-release", failure_threshold=1, reset_timeout=1, clock=clock)
    breaker.acquire()
    breaker.record_failure()
    clock.now += 1
    breaker.acquire()
    breaker.release()
    breaker.acquire()  # would raise if the slot had leaked


async def test_call_counts_exceptions_and_failed_results() -> None:
    breaker = CircuitBreaker("rb-call", failure_threshold=2, reset_timeout=5, clock=FakeClock())

    async def boom() -> int:
        raise ConnectionError

    async def bad() -> int:
        return 500

    with pytest.raises(ConnectionError):
        await breaker.call(boom)
    assert await breaker.call(bad, is_failure=lambda status: status >= 500) == 500
    with pytest.raises(CircuitOpenError):
        await breaker.call(bad)


def responses(*statuses: int | Exception) -> tuple[list[int], object]:
    calls: list[int] = []
    queue = list(statuses)

    async def send() -> httpx.Response:
        calls.append(1)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item)

    return calls, send


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
async def test_idempotent_methods_retry_on_503_then_succeed(method: str) -> None:
    calls, send = responses(503, 502, 200)
    sleep = RecordingSleep()
    policy = RetryPolicy(attempts=3, backoff_base=0.1, backoff_cap=2.0, sleep=sleep)
    response = await retry_idempotent(method, send, policy=policy)  # type: ignore[arg-type]
    assert response.status_code == 200
    assert len(calls) == 3
    assert len(sleep.delays) == 2
    # full jitter: each delay is drawn from [0, min(cap, base * 2**n)]
    assert 0 <= sleep.delays[0] <= 0.1
    assert 0 <= sleep.delays[1] <= 0.2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_unsafe_methods_are_never_retried(method: str) -> None:
    calls, send = responses(503, 200)
    response = await retry_idempotent(method, send, policy=RetryPolicy(sleep=RecordingSleep()))  # type: ignore[arg-type]
    assert response.status_code == 503
    assert len(calls) == 1

    calls, send = responses(httpx.ConnectError("refused"), 200)
    with pytest.raises(httpx.ConnectError):
        await retry_idempotent(method, send, policy=RetryPolicy(sleep=RecordingSleep()))  # type: ignore[arg-type]
    assert len(calls) == 1


@pytest.mark.parametrize("status", [200, 400, 404, 500])
async def test_other_statuses_are_not_retried(status: int) -> None:
    calls, send = responses(status, 200)
    response = await retry_idempotent("GET", send, policy=RetryPolicy(sleep=RecordingSleep()))  # type: ignore[arg-type]
    assert response.status_code == status
    assert len(calls) == 1


async def test_connect_errors_and_timeouts_are_retried_and_the_last_error_surfaces() -> None:
    calls, send = responses(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectError("again"))
    sleep = RecordingSleep()
    with pytest.raises(httpx.ConnectError, match="again"):
        await retry_idempotent("GET", send, policy=RetryPolicy(attempts=3, sleep=sleep))  # type: ignore[arg-type]
    assert len(calls) == 3
    assert len(sleep.delays) == 2


async def test_attempts_are_bounded_and_the_last_response_is_returned() -> None:
    calls, send = responses(503, 503, 503, 503, 200)
    sleep = RecordingSleep()
    policy = RetryPolicy(attempts=4, backoff_base=1.0, backoff_cap=1.5, sleep=sleep)
    response = await retry_idempotent("GET", send, policy=policy)  # type: ignore[arg-type]
    assert response.status_code == 503
    assert len(calls) == 4
    assert all(0 <= delay <= 1.5 for delay in sleep.delays)


async def test_open_circuit_is_not_retried() -> None:
    calls: list[int] = []

    async def send() -> httpx.Response:
        calls.append(1)
        raise CircuitOpenError("x", 3.0)

    with pytest.raises(CircuitOpenError):
        await retry_idempotent("GET", send, policy=RetryPolicy(sleep=RecordingSleep()))
    assert len(calls) == 1
