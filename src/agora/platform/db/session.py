"""The one commit point.

HTTP requests get a session from :func:`request_session`: it commits when the endpoint returns
and rolls back when it raises. Outside HTTP (consumers, the relay, the CLI) :func:`unit_of_work`
rolls back unless the body calls ``commit`` itself. Services and repositories only ``flush``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

AFTER_COMMIT = "after_commit"


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that rolls back on exit unless ``await session.commit()`` was called."""
    async with sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.state.sessions
    async with sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            if not session.in_transaction():
                return  # nothing was read or written: no round trip to commit nothing
            await session.commit()
            committed(request, session)


def committed(request: Request, session: AsyncSession) -> None:
    """After a request's transaction committed: wake the outbox relay if it wrote events, and
    run the ``after_commit`` callbacks (cache invalidation, metrics)."""
    notifier = getattr(request.state, "outbox_notifier", None)
    if notifier is not None and session.info.pop("outbox_dirty", False):
        notifier()
    for callback in session.info.pop(AFTER_COMMIT, ()):
        callback()


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Runs ``callback`` once the request's transaction has committed (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


# scope="function": the commit runs when the endpoint returns, before the response is sent, so
# a failed commit becomes an error response instead of a 200 for data that was never stored.
Session = Annotated[AsyncSession, Depends(request_session, scope="function")]
