"""Small helpers shared by the messaging integration tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.messaging import Envelope, Outbox

#: What a test handler does in the consumer's transaction; duplicates are allowed on purpose,
#: so a double effect shows up as two rows instead of being hidden by a constraint.
effects_metadata = MetaData()
effects = Table(
    "effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("seq", Integer, nullable=False),
)


async def wait_until(check: Callable[[], Awaitable[bool] | bool], *, within: float, what: str) -> None:
    """Poll ``check`` until true; fail with ``what`` after ``within`` seconds.

    Used where the thing awaited is a row in a database written by another task: there is no
    event to await, so we poll briefly under a hard deadline.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await _call(check):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def _call(check: Callable[[], Awaitable[bool] | bool]) -> bool:
    result = check()
    return bool(await result) if inspect.isawaitable(result) else bool(result)


async def count(sessions: async_sessionmaker[AsyncSession], column: object, *, distinct: bool = False) -> int:
    expression = func.count(func.distinct(column)) if distinct else func.count(column)
    async with sessions() as session:
        return int((await session.execute(select(expression))).scalar_one())


async def record_effect(session: AsyncSession, envelope: Envelope) -> None:
    """The handler's side effect, in the consumer's transaction."""
    await session.execute(insert(effects).values(event_id=envelope.id, seq=envelope.data["seq"]))


async def write_events(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Outbox,
    event_type: str,
    seqs: range,
    *,
    commit: bool = True,
) -> list[Envelope]:
    """Add one event per seq in one transaction; commit or roll back."""
    async with sessions() as session:
        written = [await outbox.add(session, event_type, {"seq": seq}, subject=f"item-{seq % 17}") for seq in seqs]
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return written
