"""One async engine per service, for SQLite (WAL), PostgreSQL (asyncpg) and MariaDB/MySQL (aiomysql)."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError as SqlOperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from agora.platform.db.pools import bounded_pool_class


def dialect_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB reports itself as mysql)."""
    name = make_url(url).get_backend_name()
    return "mysql" if name == "mariadb" else name


#: Connections a SQLite pool may hold (each an aiosqlite thread, opened on first use).
SQLITE_POOL_SIZE = 64

#: ``?pgbouncer=true`` on a PostgreSQL URL: the URL points at PgBouncer in transaction pooling
PGBOUNCER_PARAMETER = "pgbouncer"

#: Engines whose connections PgBouncer hands out per transaction (see :func:`create_engine`).
_BEHIND_PGBOUNCER: weakref.WeakSet[Engine] = weakref.WeakSet()


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    pool_timeout: float = 10.0,
    max_waiting: int = 256,
    echo: bool = False,
    pre_ping: bool = False,
) -> AsyncEngine:
    """An engine whose pool holds at most ``pool_size`` connections; a caller that finds them all
    busy waits up to ``pool_timeout`` seconds behind at most ``max_waiting`` others (see
    :mod:`agora.platform.db.pools`).

    ``pre_ping`` costs a round trip per checkout; without it a connection broken by a server
    restart fails one statement, after which SQLAlchemy drops the whole pool and reconnects.
    A PostgreSQL URL with ``?pgbouncer=true`` goes through PgBouncer in transaction pooling, where
    consecutive transactions of one client may run on different server connections: asyncpg
    then caches no prepared statement and names each one uniquely, so no statement is looked up
    on a server connection that never saw it, and no two clients' names collide.
    """
    parsed = make_url(url)
    flag = parsed.query.get(PGBOUNCER_PARAMETER, "")
    pgbouncer = isinstance(flag, str) and flag.lower() in ("true", "1", "yes")
    parsed = parsed.difference_update_query([PGBOUNCER_PARAMETER])
    backend = dialect_of(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A file database has no server to share connections with: the pool is as large as the
        # concurrency a process sees (aiosqlite gives each connection a thread, opened only when
        # first needed), so no read ever waits for a connection behind writers. Writers hold a
        # connection while they queue at the write gate (WriteGatedSession); with the former
        # 5 + 10 overflow, 15 queued writers took every connection and reads waited behind them
        # up to the 30 s timeout (the 50-shopper load run). WAL lets readers run during a write.
        kwargs.update(
            poolclass=bounded_pool_class(max_waiting),
            pool_size=max(pool_size, SQLITE_POOL_SIZE),
            max_overflow=0,
            pool_timeout=pool_timeout,
            connect_args={"timeout": 30},
        )
    else:
        # no overflow: an overflow connection is closed on check-in and opened again on the next
        # burst, and a connection handshake costs far more than waiting for a pooled one
        kwargs.update(
            poolclass=bounded_pool_class(max_waiting),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            pool_pre_ping=pre_ping,
            pool_recycle=1800,
        )
        if backend == "mysql":
            kwargs["connect_args"] = {"charset": "utf8mb4"}
            # InnoDB's default REPEATABLE READ takes gap locks: the relay's FOR UPDATE SKIP LOCKED
            # scan of the outbox then blocks a concurrent request's INSERT into it, and the two
            # deadlock. READ COMMITTED (PostgreSQL's default too) locks only the rows it reads.
            kwargs["isolation_level"] = "READ COMMITTED"
        elif pgbouncer:
            kwargs["connect_args"] = {
                "statement_cache_size": 0,  # asyncpg's own cache
                "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg dialect's cache
                "prepared_statement_name_func": _unique_statement_name,
            }
    engine = create_async_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    if pgbouncer:
        _BEHIND_PGBOUNCER.add(engine.sync_engine)
    return engine


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def behind_pgbouncer(engine: AsyncEngine) -> bool:
    return engine.sync_engine in _BEHIND_PGBOUNCER


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
    On SQLite, writing sessions queue at the database's write gate (see :class:`WriteGatedSession`).
    """
    if read_only and not behind_pgbouncer(engine):
        # behind PgBouncer a statement outside a transaction may be prepared on one server
        # connection and executed on another: reads keep their (pinning) transaction there
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
        return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)
    if engine.dialect.name == "sqlite":
        gated = type("SqliteSession", (WriteGatedSession,), {"gate": asyncio.Lock()})
        return async_sessionmaker(engine, class_=gated, expire_on_commit=False, autoflush=False)
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


#: As long as SQLite's own busy timeout: past it something holds the gate and will not let go.
WRITE_GATE_TIMEOUT = 30.0


class WriteGatedSession(AsyncSession):
    """A session that waits its turn in the event loop before it writes to a SQLite database.

    SQLite admits one writer at a time; the others poll the file lock, sleeping 1, 2, 5 ... up to
    100 ms between tries, so under concurrent checkouts most of a request's time went to sleeping
    writers (measured: p50 1.2 s, p99 4-6 s for 16 shoppers). Here a session takes an asyncio
    lock per database before its first write (a DML statement, or a flush or commit with pending
    changes) and gives it back when its transaction ends: writers queue in order instead of
    polling, and readers are never held up (WAL). Other processes (``agora migrate``) still meet
    SQLite's own lock. The class attribute ``gate`` is set per database by
    :func:`create_sessionmaker`.
    """

    gate: ClassVar[asyncio.Lock]
    _holding: bool = False

    async def _enter(self) -> None:
        if not self._holding:
            try:
                # not ``wait_for``: on Python 3.11 it runs the acquire as a task of its own and, when
                # a cancel arrives just after that task took the lock, returns as if acquired and
                # drops the cancel; a consumer stopping at shutdown then went on to wait for the next
                # event forever (the teardown hang of test_series_cardinality under load).
                # ``timeout`` acquires in this task, so a cancel either wins or comes after.
                async with asyncio.timeout(WRITE_GATE_TIMEOUT):
                    await self.gate.acquire()
            except TimeoutError:
                raise SqlOperationalError("write gate", None, TimeoutError("database is locked (write gate)")) from None
            self._holding = True

    def _leave(self) -> None:
        if self._holding:
            self._holding = False
            self.gate.release()

    def _pending(self) -> bool:
        sync = self.sync_session
        return bool(sync.new or sync.deleted or sync.dirty)

    async def _before(self, statement: Any = None) -> None:
        if getattr(statement, "is_dml", False) or self._pending():
            await self._enter()

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._before(statement)
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._before(statement)
        return await super().scalar(statement, *args, **kwargs)

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._before(statement)
        return await super().scalars(statement, *args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        await self._before()
        await super().flush(objects)

    async def commit(self) -> None:
        await self._before()
        try:
            await super().commit()
        finally:
            self._leave()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._leave()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._leave()
