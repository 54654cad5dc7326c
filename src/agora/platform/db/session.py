"""The one commit point, and the one place the outbox relay is woken after a commit.

HTTP requests get a session from :data:`Session` (:func:`request_session`): it commits when the
endpoint returns and rolls back when it raises. Consumers and tasks use ``unit_of_work(context)``,
which does the same. Both then call :func:`committed`: it wakes the relay when the transaction
wrote events and runs the ``after_commit`` callbacks. Services and repositories only ``flush``.

``unit_of_work(sessions)`` (a bare sessionmaker: the chassis's own bookkeeping, the relay, the
idempotency store) rolls back on exit unless the body calls ``commit`` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Annotated, overload

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

AFTER_COMMIT = "after_commit"
#: ``session.info`` flag the outbox sets (``agora.platform.messaging.outbox.OUTBOX_DIRTY``).
_OUTBOX_DIRTY = "outbox_dirty"


@overload
def unit_of_work(source: async_sessionmaker[AsyncSession]) -> AbstractAsyncContextManager[AsyncSession]: ...
@overload
def unit_of_work(source: ServiceContext) -> AbstractAsyncContextManager[AsyncSession]: ...
def unit_of_work(
    source: async_sessionmaker[AsyncSession] | ServiceContext,
) -> AbstractAsyncContextManager[AsyncSession]:
    """Given the service context: commits when the block ends (rolls back if it raises), then
    wakes the relay and runs the ``after_commit`` callbacks, like a request's ``Session``. Given
    a bare sessionmaker: a session that rolls back on exit unless ``commit`` was called."""
    if isinstance(source, async_sessionmaker):
        return _rolled_back_unless_committed(source)
    return _committing(source)


@asynccontextmanager
async def _rolled_back_unless_committed(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        try:
            yield session
        finally:
            await session.rollback()


@asynccontextmanager
async def _committing(context: ServiceContext) -> AsyncIterator[AsyncSession]:
    async with context.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if not session.in_transaction():
            return  # nothing was read or written: no round trip to commit nothing
        await session.commit()
        committed(context, session)


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _committing(request.state.context) as session:
        yield session


def committed(context: ServiceContext, session: AsyncSession) -> None:
    """After a transaction committed: wake the outbox relay if it wrote events, and run the
    ``after_commit`` callbacks (cache invalidation, metrics)."""
    if session.info.pop(_OUTBOX_DIRTY, False):
        context.relay.notify()
    for callback in session.info.pop(AFTER_COMMIT, ()):
        callback()


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Runs ``callback`` once the transaction has committed (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


# scope="function": the commit runs when the endpoint returns, before the response is sent, so
# a failed commit becomes an error response instead of a 200 for data that was never stored.
Session = Annotated[AsyncSession, Depends(request_session, scope="function")]
