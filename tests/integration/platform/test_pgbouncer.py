"""PgBouncer in transaction pooling in front of PostgreSQL: the way past the connection budget.

A PgBouncer started by the test (``pool_mode = transaction``, a few server connections) takes
the catalog's whole journey: migrations, the seed, concurrent reads, searches and admin writes
with their outbox events, and the relay publishing them. Without ``?pgbouncer=true`` the same
traffic breaks on prepared statements that one client made on a server connection another
client now has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agora.platform.db import create_engine
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import POSTGRES_URL, backend_unavailable, fresh_database
from agora.platform.testing.pgbouncer import PrivatePgBouncer
from agora.services.catalog import CatalogSettings, spec

pytestmark = [pytest.mark.backend("postgresql"), pytest.mark.slow]

API = "/api/catalog"
SERVER_CONNECTIONS = 3


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PrivatePgBouncer]:
    try:
        running = PrivatePgBouncer(POSTGRES_URL, pool_size=SERVER_CONNECTIONS).start()
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        backend_unavailable("pgbouncer", str(exc))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database on the real server; its name is what PgBouncer is asked for."""
    async for url in fresh_database("postgresql", tmp_path):
        yield url.rsplit("/", 1)[1]


def product(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": "Quokka Trail Sandal",
        "description": "An open sandal for river crossings.",
        "price": {"amount": 4999, "currency": "EUR"},
        "category": "footwear",
        "tags": ["sandals", "summer"],
    }


async def test_the_catalog_through_pgbouncer_in_transaction_mode(
    bouncer: PrivatePgBouncer, database: str, jwks_file: Path, tmp_path: Path, admin_token: str
) -> None:
    platform = platform_for_tests(tmp_path, jwks_file=jwks_file)
    # more client connections than PgBouncer has server connections: they must share them
    settings = {"catalog": CatalogSettings(database_url=bouncer.url(database), database_pool_size=12)}
    async with running_services([spec], platform, settings, seed=True) as (client, embedded):
        first = (await client.get(f"{API}/products", params={"limit": 50})).json()["items"]
        assert len(first) == 50
        admin = {"Authorization": f"Bearer {admin_token}"}
        calls = [client.get(f"{API}/products/{item['id']}") for item in first[:30]]
        calls += [client.get(f"{API}/products", params={"q": "sandal", "limit": 5}) for _ in range(15)]
        calls += [client.get(f"{API}/categories") for _ in range(15)]
        calls += [client.post(f"{API}/products", json=product(f"PGB-{n:04d}"), headers=admin) for n in range(20)]
        answers = await asyncio.gather(*calls)
        statuses = [answer.status_code for answer in answers]
        assert statuses == [200] * 60 + [201] * 20, [a.text for a in answers if a.status_code >= 300][:3]
        # the relay published every event through PgBouncer too (its FOR UPDATE SKIP LOCKED scan)
        context = embedded.contexts["catalog"]
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            async with context.sessions() as session:
                pending = await session.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            if pending == 0:
                break
            assert asyncio.get_running_loop().time() < deadline, f"{pending} events never published"
            await asyncio.sleep(0.2)  # the relay runs in the background: poll its outcome
    assert "ERROR" not in bouncer.log()


async def test_without_the_setting_prepared_statements_collide(bouncer: PrivatePgBouncer, database: str) -> None:
    """What ``?pgbouncer=true`` prevents: asyncpg names statements per connection, and through
    PgBouncer two clients' "first statement" meet on one server connection."""
    engines = [create_engine(bouncer.url(database, flag=False), pool_size=4) for _ in range(4)]

    async def query(engine: Any, n: int) -> None:
        async with engine.connect() as connection:
            await connection.execute(text(f"SELECT {n} AS n, now()"))
            await connection.execute(text("SELECT relname FROM pg_class LIMIT 1"))

    try:
        results = await asyncio.gather(
            *(query(engine, n) for n in range(10) for engine in engines), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, DBAPIError)]
        assert failures, "expected prepared-statement errors without ?pgbouncer=true"
        assert all("prepared statement" in str(failure) for failure in failures), failures[:2]
    finally:
        for engine in engines:
            await engine.dispose()
    flagged = [create_engine(bouncer.url(database), pool_size=4) for _ in range(4)]
    try:
        await asyncio.gather(*(query(engine, n) for n in range(10) for engine in flagged))
    finally:
        for engine in flagged:
            await engine.dispose()
