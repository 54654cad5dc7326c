"""Pytest fixtures: a fresh, real database per test module on SQLite, PostgreSQL and MariaDB.

Server URLs come from ``AGORA_TEST_POSTGRES_URL`` / ``AGORA_TEST_MARIADB_URL`` (defaults: the
machine's loopback servers). When a server is unreachable the test is skipped locally, and
fails when ``CI=true``: CI must never pass by skipping a backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_URL = os.environ.get("AGORA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("AGORA_TEST_MARIADB_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")

DATABASE_BACKENDS = ("sqlite", "postgresql", "mariadb")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def backend_unavailable(name: str, reason: str) -> None:
    """Fail in CI, skip locally: a missing backend is never a silent pass in CI."""
    message = f"{name} is unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def create_database(server_url: str, backend: str) -> str:
    """Creates an empty database on the server and returns its URL."""
    name = f"agora_test_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend == "postgresql":
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                await connection.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                )
    except Exception as exc:
        backend_unavailable(backend, f"{type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, backend: str, url: str) -> None:
    name = make_url(url).database
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend == "postgresql":
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                await connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await engine.dispose()


async def fresh_database(backend: str, tmp_dir: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'agora-{uuid.uuid4().hex[:8]}.db'}"
        return
    server = POSTGRES_URL if backend == "postgresql" else MARIADB_URL
    url = await create_database(server, backend)
    try:
        yield url
    finally:
        await drop_database(server, backend, url)


@asynccontextmanager
async def service_databases(backend: str, names: Iterable[str], tmp_dir: Path) -> AsyncIterator[dict[str, str]]:
    """One fresh database per service name on ``backend`` (services never share a database)."""
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for name in names:
            generator = fresh_database(backend, tmp_dir)
            urls[name] = await anext(generator)
            stack.push_async_callback(_finish, generator)
        yield urls


async def _finish(generator: AsyncIterator[str]) -> None:
    async for _ in generator:  # runs the generator's clean-up (drops the database)
        pass


@pytest.fixture(params=DATABASE_BACKENDS, scope="module")
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def database_url(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh, empty database on each backend, for one test module."""
    async for url in fresh_database(database_backend, tmp_path_factory.mktemp("db")):
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{tmp_path / 'agora.db'}"
