"""The in-process broker's journal: its messages and its groups' committed offsets in SQLite.

One file, one process: the embedded process that owns it (two processes on one data directory
would each hand out the same offsets). WAL with ``synchronous=NORMAL``, as the services' own
SQLite databases: a commit survives the process being killed, which is the failure embedded mode
guards against (a power cut may lose the last commits of every file alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiosqlite

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS messages ("
    " topic TEXT NOT NULL, offset INTEGER NOT NULL, payload BLOB NOT NULL, published_at REAL NOT NULL,"
    " PRIMARY KEY (topic, offset)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS offsets ("
    " topic TEXT NOT NULL, consumer_group TEXT NOT NULL, committed INTEGER NOT NULL,"
    " PRIMARY KEY (topic, consumer_group)) WITHOUT ROWID",
)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(self.path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            await connection.execute(statement)
        await connection.commit()
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    def _open(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("the broker journal is not open")
        return self._connection

    async def messages(self) -> list[tuple[str, int, bytes, float]]:
        """Every retained message, per topic in offset order."""
        cursor = await self._open().execute(
            "SELECT topic, offset, payload, published_at FROM messages ORDER BY topic, offset"
        )
        return [(str(t), int(o), bytes(p), float(at)) for t, o, p, at in await cursor.fetchall()]

    async def offsets(self) -> list[tuple[str, str, int]]:
        cursor = await self._open().execute("SELECT topic, consumer_group, committed FROM offsets")
        return [(str(t), str(g), int(c)) for t, g, c in await cursor.fetchall()]

    async def append(self, rows: Sequence[tuple[str, int, bytes, float]]) -> None:
        """Commits messages (topic, offset, payload, published_at); returns once they are stored."""
        connection = self._open()
        try:
            await connection.executemany("INSERT INTO messages VALUES (?, ?, ?, ?)", rows)
            await connection.commit()
        except Exception:
            await connection.rollback()  # nothing of a refused batch may ride along with the next
            raise

    async def save(self, offsets: Sequence[tuple[str, str, int]], bases: Sequence[tuple[str, int]]) -> None:
        """Writes groups' committed offsets and drops messages below each topic's new base."""
        connection = self._open()
        try:
            await self._save(connection, offsets, bases)
        except Exception:
            await connection.rollback()
            raise

    @staticmethod
    async def _save(
        connection: aiosqlite.Connection, offsets: Sequence[tuple[str, str, int]], bases: Sequence[tuple[str, int]]
    ) -> None:
        await connection.executemany(
            "INSERT INTO offsets VALUES (?, ?, ?)"
            " ON CONFLICT (topic, consumer_group) DO UPDATE SET committed = excluded.committed",
            offsets,
        )
        await connection.executemany("DELETE FROM messages WHERE topic = ? AND offset < ?", bases)
        await connection.commit()
