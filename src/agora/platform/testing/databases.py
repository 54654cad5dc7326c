"""Pytest fixtures: a fresh, real database per test module on SQLite, PostgreSQL and MariaDB.

Server URLs come from ``AGORA_TEST_POSTGRES_URL`` / ``AGORA_TEST_MARIADB_URL`` (defaults: the
machine's loopback servers). When a server is unreachable the test is skipped locally, and
fails when ``CI=true``: CI must never pass by skipping a backend.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from agora.platform.testing import scratch
from agora.platform.testing.scratch import MARIADB_URL, POSTGRES_URL, drop_database, in_ci

__all__ = ["MARIADB_URL", "POSTGRES_URL", "create_database", "drop_database", "fresh_database", "in_ci"]

DATABASE_BACKENDS = ("sqlite", "postgresql", "mariadb")


def backend_unavailable(name: str, reason: str) -> None:
    """Fail in CI, skip locally: a missing backend is never a silent pass in CI."""
    message = f"{name} is unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def create_database(server_url: str, backend: str) -> str:
    """Creates an empty database on the server and returns its URL (an unreachable server skips
    the test locally and fails it in CI)."""
    try:
        return await scratch.create_database(server_url, backend)
    except scratch.ServerUnavailable as exc:
        backend_unavailable(backend, str(exc))
        raise  # not reached: backend_unavailable raises pytest's outcome


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
