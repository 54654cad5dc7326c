"""One async engine per service, for SQLite (WAL), PostgreSQL (asyncpg) and MariaDB/MySQL (aiomysql)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def dialect_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB reports itself as mysql)."""
    name = make_url(url).get_backend_name()
    return "mysql" if name == "mariadb" else name


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False, pre_ping: bool = False) -> AsyncEngine:
    """``pre_ping`` costs a round trip per checkout; without it a connection broken by a server
    restart fails one statement, after which SQLAlchemy drops the whole pool and reconnects."""
    parsed = make_url(url)
    backend = dialect_of(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # aiosqlite runs every connection on its own thread; a small pool avoids lock churn
        # while WAL lets readers proceed during a write.
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # no overflow: an overflow connection is closed on check-in and opened again on the next
        # burst, and a connection handshake costs far more than waiting for a pooled one
        kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=10, pool_pre_ping=pre_ping, pool_recycle=1800)
        if backend == "mysql":
            kwargs["connect_args"] = {"charset": "utf8mb4"}
            # InnoDB's default REPEATABLE READ takes gap locks: the relay's FOR UPDATE SKIP LOCKED
            # scan of the outbox then blocks a concurrent request's INSERT into it, and the two
            # deadlock. READ COMMITTED (PostgreSQL's default too) locks only the rows it reads.
            kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine, *, read_only: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions for the unit of work; ``read_only`` ones run each statement in autocommit.

    A read that is one statement needs no transaction: autocommit saves the BEGIN and ROLLBACK
    round trips (two of the three a primary-key read otherwise costs). Writes never use them.
    """
    bind = engine.execution_options(isolation_level="AUTOCOMMIT") if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)
