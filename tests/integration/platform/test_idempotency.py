"""Idempotency keys end to end over HTTP, on every database backend, with the probe service.

The draft's rules: same key and body → the stored answer replayed; same key while the first is in
flight → 409; same key with another body → 422; keys are per caller; refusals are answers too;
a crash keeps nothing, so the retry runs again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from agora.platform.idempotency import IdempotencyStore, idempotency_keys
from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from tests.support.probe import ENTERED, GATES, Note, ProbeSettings, spec

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def probe(database_url: str, jwks_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator:
    platform = platform_for_tests(tmp_path_factory.mktemp("idem"), jwks_file=jwks_file)
    async with running_services([spec], platform, {"probe": ProbeSettings(database_url=database_url)}) as running:
        yield running


def headers(token: str, key: str | None) -> dict[str, str]:
    result = {"Authorization": f"Bearer {token}"}
    if key is not None:
        result["Idempotency-Key"] = key
    return result


async def counts(embedded) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with embedded.contexts["probe"].sessions() as session:
        notes = await session.scalar(select(func.count()).select_from(Note))
        events = await session.scalar(select(func.count()).select_from(outbox))
        keys = await session.scalar(select(func.count()).select_from(idempotency_keys))
    return int(notes or 0), int(events or 0), int(keys or 0)


async def test_a_retry_gets_the_stored_answer_and_changes_nothing(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    first = await client.post("/api/probe/payments", json={"text": "one"}, headers=headers(customer_token, key))
    assert first.status_code == 201, first.text
    before = await counts(embedded)
    again = await client.post("/api/probe/payments", json={"text": "one"}, headers=headers(customer_token, key))
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await counts(embedded) == before


async def test_twenty_concurrent_requests_with_one_key_make_one_effect(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    before = await counts(embedded)
    responses = await asyncio.gather(
        *(
            client.post("/api/probe/payments", json={"text": "race"}, headers=headers(customer_token, key))
            for _ in range(20)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(created) == 1  # every 201 is the same note: the first one, or its replay
    after = await counts(embedded)
    assert after[0] - before[0] == 1 and after[1] - before[1] == 1


async def test_same_key_other_body_is_422_and_changes_nothing(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    assert (
        await client.post("/api/probe/payments", json={"text": "a"}, headers=headers(customer_token, key))
    ).status_code == 201
    before = await counts(embedded)
    other = await client.post("/api/probe/payments", json={"text": "b"}, headers=headers(customer_token, key))
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await counts(embedded) == before


async def test_in_flight_is_409_then_the_answer_is_replayed(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = probe
    key, gate = str(uuid.uuid4()), uuid.uuid4().hex
    body = {"text": "slow", "gate": gate}
    GATES[gate], ENTERED[gate] = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(client.post("/api/probe/payments", json=body, headers=headers(customer_token, key)))
    await asyncio.wait_for(ENTERED[gate].wait(), 10)
    during = await client.post("/api/probe/payments", json=body, headers=headers(customer_token, key))
    assert during.status_code == 409
    assert during.json()["errors"][0]["field"] == "Idempotency-Key"
    GATES[gate].set()
    assert (await first).status_code == 201
    after = await client.post("/api/probe/payments", json=body, headers=headers(customer_token, key))
    assert after.status_code == 201 and after.json() == (await first).json()


async def test_keys_are_per_caller(probe, token_factory) -> None:  # type: ignore[no-untyped-def]
    client, _ = probe
    key = str(uuid.uuid4())
    alice = token_factory(subject=f"alice-{key}")
    bob = token_factory(subject=f"bob-{key}")
    a = await client.post("/api/probe/payments", json={"text": "x"}, headers=headers(alice, key))
    b = await client.post("/api/probe/payments", json={"text": "x"}, headers=headers(bob, key))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


async def test_a_refusal_is_stored_and_its_effect_rolled_back(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    before = await counts(embedded)
    refused = await client.post(
        "/api/probe/payments", json={"text": "no", "outcome": "refuse"}, headers=headers(customer_token, key)
    )
    assert refused.status_code == 402
    assert refused.json()["reason"] == "card_declined"
    again = await client.post(
        "/api/probe/payments", json={"text": "no", "outcome": "refuse"}, headers=headers(customer_token, key)
    )
    assert again.status_code == 402 and again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/problem+json"
    notes, events, keys = await counts(embedded)
    assert (notes, events, keys) == (before[0], before[1], before[2] + 1)


async def test_a_crash_keeps_nothing_so_the_retry_runs(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    before = await counts(embedded)
    crashed = await client.post(
        "/api/probe/payments", json={"text": "c", "outcome": "crash"}, headers=headers(customer_token, key)
    )
    assert crashed.status_code == 500
    assert await counts(embedded) == before
    retry = await client.post(
        "/api/probe/payments", json={"text": "c", "outcome": "crash"}, headers=headers(customer_token, key)
    )
    assert retry.status_code == 500 and "idempotent-replayed" not in retry.headers


@pytest.mark.parametrize(
    ("value", "status"),
    [(None, 400), ("", 400), ("x" * 256, 400), ("tab\there", 400), ('"quoted-key"', 201)],
)
async def test_the_header_is_required_and_checked(probe, customer_token: str, value: str | None, status: int) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    before = await counts(embedded)
    suffix = uuid.uuid4().hex[:8]
    key = value.replace("quoted-key", f"quoted-{suffix}") if value else value
    response = await client.post("/api/probe/payments", json={"text": "h"}, headers=headers(customer_token, key))
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
        assert await counts(embedded) == before


async def test_expired_keys_are_purged_and_reusable(probe, customer_token: str) -> None:  # type: ignore[no-untyped-def]
    client, embedded = probe
    key = str(uuid.uuid4())
    first = await client.post("/api/probe/payments", json={"text": "old"}, headers=headers(customer_token, key))
    assert first.status_code == 201
    context = embedded.contexts["probe"]
    async with context.sessions() as session:
        await session.execute(update(idempotency_keys).where(idempotency_keys.c.key == key).values(expires_at=LONG_AGO))
        await session.commit()
    fresh = await client.post("/api/probe/payments", json={"text": "new"}, headers=headers(customer_token, key))
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    async with context.sessions() as session:
        await session.execute(update(idempotency_keys).values(expires_at=LONG_AGO))
        await session.commit()
    assert await IdempotencyStore(context.sessions).purge() >= 1
    assert (await counts(embedded))[2] == 0


async def test_a_dead_owner_lock_can_be_taken_over(probe) -> None:  # type: ignore[no-untyped-def]
    _, embedded = probe
    context = embedded.contexts["probe"]
    store = IdempotencyStore(context.sessions, lock_timeout=timedelta(seconds=60))
    scope, key = "customer-1", str(uuid.uuid4())
    begun = await store.begin(scope, key, "f" * 64)
    assert begun.__class__.__name__ == "Begun"
    with pytest.raises(Exception, match="still being processed"):
        await store.begin(scope, key, "f" * 64)
    async with context.sessions() as session:  # the owner died long ago
        await session.execute(
            update(idempotency_keys).where(idempotency_keys.c.key == key).values(locked_until=LONG_AGO)
        )
        await session.commit()
    assert (await store.begin(scope, key, "f" * 64)).__class__.__name__ == "Begun"
