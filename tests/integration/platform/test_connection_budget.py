"""A service's pool on PostgreSQL: requests wait for a pooled connection, never open more, and a
full queue or a timed-out wait is a 503 with Retry-After (problem+json), never a 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from agora.platform.db import create_engine
from agora.platform.db.pools import PoolSaturated
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import POSTGRES_URL, fresh_database
from tests.support.probe import ProbeSettings, spec

pytestmark = pytest.mark.backend("postgresql")


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    async for url in fresh_database("postgresql", tmp_path):
        yield url


async def server_connections(database_url: str) -> int:
    """Connections PostgreSQL holds open to the test's database, as the server counts them."""
    name = database_url.rsplit("/", 1)[1]
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_a_full_queue_fails_at_once_and_a_long_wait_times_out(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=1, pool_timeout=0.5, max_waiting=1)
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            started = time.monotonic()
            waiting = asyncio.create_task(engine.connect().__aenter__())
            await asyncio.sleep(0)  # the waiter takes the queue's one place
            with pytest.raises(PoolSaturated):
                async with engine.connect():
                    pass
            assert time.monotonic() - started < 0.4  # refused at once, not after the timeout
            with pytest.raises(PoolTimeoutError):
                await waiting
            assert time.monotonic() - started >= 0.5
            assert await server_connections(postgres_url) == 1
    finally:
        await engine.dispose()


async def test_a_burst_waits_for_the_pool_instead_of_opening_connections(
    postgres_url: str, jwks_file: Path, tmp_path: Path, admin_token: str
) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    settings = {"probe": ProbeSettings(database_url=postgres_url, database_pool_size=2)}
    async with running_services([spec], platform, settings) as (client, _):
        answers = await asyncio.gather(*(client.get("/api/probe/notes/count") for _ in range(40)))
        assert [answer.status_code for answer in answers] == [200] * 40
        writes = await asyncio.gather(
            *(
                client.post(
                    "/api/probe/notes", json={"text": f"n{n}"}, headers={"Authorization": f"Bearer {admin_token}"}
                )
                for n in range(20)
            )
        )
        assert [answer.status_code for answer in writes] == [201] * 20
        assert await server_connections(postgres_url) <= 2


@pytest.mark.parametrize("queue", [0, 5], ids=["queue-full", "wait-timed-out"])
async def test_a_saturated_pool_answers_503_with_retry_after(
    postgres_url: str, jwks_file: Path, tmp_path: Path, queue: int
) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file, database_pool_queue=queue, database_pool_timeout=0.3)
    settings = {"probe": ProbeSettings(database_url=postgres_url, database_pool_size=1)}
    async with running_services([spec], platform, settings) as (client, embedded):
        async with embedded.contexts["probe"].engine.connect() as held:  # the pool's one connection
            await held.execute(text("SELECT 1"))
            answer = await client.get("/api/probe/notes/count")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["content-type"] == "application/problem+json"
        assert "waiting for the database" in answer.json()["detail"]
        # and once the connection is back, the same request succeeds
        assert (await client.get("/api/probe/notes/count")).status_code == 200
