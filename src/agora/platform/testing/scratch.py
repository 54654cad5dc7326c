"""Scratch databases on a real server: create one with a unique name, drop it afterwards.

Needs no pytest, so benchmarks and scripts use it after a plain ``make install``; the pytest
fixtures in :mod:`agora.platform.testing.databases` build on it. Server URLs come from
``AGORA_TEST_POSTGRES_URL`` / ``AGORA_TEST_MARIADB_URL`` (defaults: the loopback servers).
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_URL = os.environ.get("AGORA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("AGORA_TEST_MARIADB_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")


class ServerUnavailable(Exception):
    """The database server did not let us create a database."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def create_database(server_url: str, backend: str) -> str:
    """Creates an empty database on the server and returns its URL."""
    name = f"agora_test_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        statement = f'CREATE DATABASE "{name}"'
    else:
        statement = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    try:
        await _on_server(server_url, statement)
    except Exception as exc:
        raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, backend: str, url: str) -> None:
    name = make_url(url).database
    if backend == "postgresql":
        await _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        await _on_server(server_url, f"DROP DATABASE IF EXISTS `{name}`")


async def _on_server(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()
