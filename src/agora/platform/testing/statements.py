"""Counting the SQL statements a piece of code sends, for tests that bound them.

Statement counts are what the data path's speed rests on (every statement is a round trip, and on
SQLite a thread hand-off, some of them inside the write gate), and unlike timings they are the
same on every machine: a test can assert a bound and fail when a change adds a query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


@asynccontextmanager
async def recorded_statements(session: AsyncSession) -> AsyncIterator[list[str]]:
    """The SQL text of every statement ``session`` sends inside the block (savepoints
    included, and commits; a driver's implicit BEGIN is not a statement SQLAlchemy sends). Only this
    session's connection is watched: a relay or sweep on the same engine is not counted. The
    block must not end the session's transaction before its last statement (the connection
    is the transaction's)."""
    sync = (await session.connection()).sync_connection
    if sync is None:
        raise RuntimeError("the session has no connection")
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def on_commit(_conn: Any) -> None:
        statements.append("COMMIT")

    hooks = (
        ("before_cursor_execute", on_execute),
        ("commit", on_commit),
    )
    for name, hook in hooks:
        event.listen(sync, name, hook)
    try:
        yield statements
    finally:
        for name, hook in hooks:
            event.remove(sync, name, hook)
