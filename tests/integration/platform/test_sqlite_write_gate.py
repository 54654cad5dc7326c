"""SQLite writers queue at the write gate instead of polling the file lock, and never keep it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from agora.platform.db import create_engine, create_sessionmaker, unit_of_work
from agora.platform.db.engine import WriteGatedSession

pytestmark = pytest.mark.backend("sqlite")

metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("owner", String(20)))


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def count(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(rows)) or 0)


async def test_many_concurrent_writers_all_commit(sessions) -> None:  # type: ignore[no-untyped-def]
    async def write(n: int) -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(insert(rows).values(owner=f"w{n}"))
            await asyncio.sleep(0)  # hand the loop to the others while holding the write
            await session.execute(insert(rows).values(owner=f"w{n}"))
            await session.commit()

    await asyncio.gather(*(write(n) for n in range(60)))
    assert await count(sessions) == 120
    assert not sessions.class_.gate.locked()


async def test_the_gate_is_released_on_rollback_and_on_errors(sessions) -> None:  # type: ignore[no-untyped-def]
    assert issubclass(sessions.class_, WriteGatedSession)
    async with unit_of_work(sessions) as session:  # never committed: rolled back on exit
        await session.execute(insert(rows).values(owner="dropped"))
        assert sessions.class_.gate.locked()
    assert not sessions.class_.gate.locked()
    with pytest.raises(Exception, match="no such table"):
        async with unit_of_work(sessions) as session:
            await session.execute(insert(rows).values(owner="x"))  # takes the gate
            assert sessions.class_.gate.locked()
            await session.execute(text("INSERT INTO nowhere VALUES (1)"))  # fails inside the transaction
    assert not sessions.class_.gate.locked()
    assert await count(sessions) == 0


async def test_readers_do_not_wait_for_a_writer(sessions) -> None:  # type: ignore[no-untyped-def]
    async with unit_of_work(sessions) as writer:
        await writer.execute(insert(rows).values(owner="pending"))
        assert sessions.class_.gate.locked()
        assert await asyncio.wait_for(count(sessions), 5) == 0  # WAL: the reader sees the last commit
        await writer.commit()
    assert await count(sessions) == 1


class _Gate(asyncio.Lock):
    """The write gate, telling when a session queues at it."""

    def __init__(self) -> None:
        super().__init__()
        self.queued = asyncio.Event()

    async def acquire(self) -> bool:
        self.queued.set()
        return await super().acquire()


async def test_a_writer_cancelled_as_the_gate_frees_is_cancelled_and_leaves_it_free(sessions) -> None:  # type: ignore[no-untyped-def]
    """The cancel comes in the same loop step that hands the gate over. ``wait_for`` (Python 3.11)
    returned as if it had acquired and dropped the cancel: the writer went on to write, and a
    consumer stopped at shutdown then waited for its next event forever."""
    gate = _Gate()
    sessions.class_.gate = gate
    await gate.acquire()
    gate.queued.clear()

    async def write() -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(insert(rows).values(owner="cancelled"))
            await session.commit()

    writer = asyncio.create_task(write())
    await asyncio.wait_for(gate.queued.wait(), 5)
    gate.release()
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert not gate.locked()
    assert await count(sessions) == 0
