"""Typed dependencies for endpoints: what the chassis built, read from the service context.

The lifespan state carries the service's :class:`ServiceContext` (``context``); every other object
an endpoint needs is one of these ``Annotated`` aliases, and the service's own runtime (what its
``spec.start`` yielded) is ``runtime_of(CartRuntime)``::

    Runtime = Annotated[CartRuntime, Depends(runtime_of(CartRuntime))]

    @router.get("/carts/{cart_id}")
    async def get_cart(runtime: Runtime, sessions: ReadSessions, cart_id: str) -> Response: ...

All are ``async def`` (a plain ``def`` dependency would run in the thread pool), and each reads
the context from the connection itself rather than depending on ``Context``: FastAPI solves every
sub-dependency of every parameter on each request (the cache saves only the call), so one level
less is one solve less per parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from agora.platform.cache import ResponseCache
from agora.platform.db.session import Session, unit_of_work
from agora.platform.http.pagination import Cursors as CursorPages
from agora.platform.messaging import Outbox as OutboxWriter
from agora.platform.service import ServiceContext, context_of
from agora.platform.settings import PlatformSettings

R = TypeVar("R")


async def _context(connection: HTTPConnection) -> ServiceContext:
    return context_of(connection)


Context = Annotated[ServiceContext, Depends(_context)]


async def _read_sessions(connection: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    return context_of(connection).read_sessions


async def _outbox(connection: HTTPConnection) -> OutboxWriter:
    return context_of(connection).outbox


async def _read_cache(connection: HTTPConnection) -> ResponseCache:
    return context_of(connection).read_cache


async def _cursors(connection: HTTPConnection) -> CursorPages:
    return context_of(connection).cursors


async def _platform(connection: HTTPConnection) -> PlatformSettings:
    return context_of(connection).platform


ReadSessions = Annotated[async_sessionmaker[AsyncSession], Depends(_read_sessions)]
"""Autocommit sessions for single-statement reads (nothing to commit)."""
Outbox = Annotated[OutboxWriter, Depends(_outbox)]
"""The service's outbox: ``await outbox.add(session, SomeEvent(...))`` in the request's ``Session``."""
ReadCache = Annotated[ResponseCache, Depends(_read_cache)]
Cursors = Annotated[CursorPages, Depends(_cursors)]
"""Keyset cursors: ``cursors.decode(cursor, tuple[datetime, str], of="orders")`` (422 naming
``query.cursor`` when refused) and ``cursors.page(rows, limit, key, of="orders")``."""
PlatformConfig = Annotated[PlatformSettings, Depends(_platform)]


def runtime_of(cls: type[R]) -> Callable[[HTTPConnection], Awaitable[R]]:
    """The dependency that returns the service's runtime, checked to be a ``cls``."""

    async def runtime(connection: HTTPConnection) -> R:
        context = context_of(connection)
        found = context.runtime
        if not isinstance(found, cls):
            raise TypeError(f"{context.name}'s runtime is a {type(found).__name__}, not a {cls.__name__}")
        return found

    runtime.__name__ = f"runtime_of_{cls.__name__}"
    return runtime


__all__ = [
    "Context",
    "Cursors",
    "Outbox",
    "PlatformConfig",
    "ReadCache",
    "ReadSessions",
    "Session",
    "runtime_of",
    "unit_of_work",
]
