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

A service's read and write dependencies are declared once with :func:`reader` and
:func:`writer` from the function that builds its service over a session::

    Reader = Annotated[AdsService, Depends(reader(AdsRuntime, AdsRuntime.service))]
    Writer = Annotated[AdsService, Depends(writer(AdsRuntime, AdsRuntime.service, guards=(Admin, JsonBody)))]

``build`` is any ``(runtime, session) -> service``; a guard is any ``Annotated`` parameter the
endpoint would otherwise take and ignore (``Admin``, ``JsonBody``); guards per route stay on the
route.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from agora.platform.cache import ResponseCache
from agora.platform.db.session import Session, after_commit, unit_of_work
from agora.platform.http.pagination import Cursors as CursorPages
from agora.platform.http.problems import require_json
from agora.platform.messaging import Outbox as OutboxWriter
from agora.platform.service import ServiceContext, context_of
from agora.platform.settings import PlatformSettings

R = TypeVar("R")
S = TypeVar("S")


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
JsonBody = Annotated[None, Depends(require_json)]
"""A guard: the request's body is declared JSON (415 otherwise)."""


def _runtime(context: ServiceContext, cls: type[R]) -> R:
    found = context.runtime
    if not isinstance(found, cls):
        raise TypeError(f"{context.name}'s runtime is a {type(found).__name__}, not a {cls.__name__}")
    return found


def runtime_of(cls: type[R]) -> Callable[[HTTPConnection], Awaitable[R]]:
    """The dependency that returns the service's runtime, checked to be a ``cls``."""

    async def runtime(connection: HTTPConnection) -> R:
        return _runtime(context_of(connection), cls)

    runtime.__name__ = f"runtime_of_{cls.__name__}"
    return runtime


_CONNECTION = inspect.Parameter("connection", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HTTPConnection)
_SESSION = inspect.Parameter("session", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Session)


def _declared(
    dependency: Callable[..., Any], name: str, first: Sequence[inspect.Parameter], guards: Sequence[object]
) -> None:
    """Give ``dependency`` the signature FastAPI reads: ``first``, then one parameter per guard
    (an ``Annotated`` dependency such as ``Admin``, solved as if written by hand, in order)."""
    parameters = [*first]
    parameters += [
        inspect.Parameter(f"_guard{index}", inspect.Parameter.KEYWORD_ONLY, annotation=guard)
        for index, guard in enumerate(guards)
    ]
    dependency.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    dependency.__name__ = dependency.__qualname__ = name


def reader(
    cls: type[R], build: Callable[[R, AsyncSession], S], *, guards: Sequence[object] = ()
) -> Callable[..., AsyncIterator[S]]:
    """The dependency that yields ``build(runtime, session)`` over an autocommit read session
    (reads need no commit point: no BEGIN/COMMIT round trips), after the ``guards`` passed.

    It reads the runtime and the sessions from the connection itself, so it costs no more
    FastAPI sub-dependencies than its guards."""

    async def read_service(connection: HTTPConnection, **_guards: object) -> AsyncIterator[S]:
        context = context_of(connection)
        runtime = _runtime(context, cls)
        async with context.read_sessions() as session:
            yield build(runtime, session)

    _declared(read_service, f"reader_of_{cls.__name__}", [_CONNECTION], guards)
    return read_service


def writer(
    cls: type[R],
    build: Callable[[R, AsyncSession], S],
    *,
    guards: Sequence[object] = (),
    clears_cache: bool = False,
) -> Callable[..., Awaitable[S]]:
    """The dependency that returns ``build(runtime, session)`` over the request's ``Session``
    (committed after the endpoint, which wakes the outbox relay), after the ``guards`` passed.

    ``clears_cache``: the service's read cache is cleared once the transaction has committed
    (never before: see :mod:`agora.platform.cache`), for writes that change what it serves."""

    async def write_service(connection: HTTPConnection, session: AsyncSession, **_guards: object) -> S:
        context = context_of(connection)
        if clears_cache:
            after_commit(session, context.read_cache.clear)
        return build(_runtime(context, cls), session)

    _declared(write_service, f"writer_of_{cls.__name__}", [_CONNECTION, _SESSION], guards)
    return write_service


__all__ = [
    "Context",
    "Cursors",
    "JsonBody",
    "Outbox",
    "PlatformConfig",
    "ReadCache",
    "ReadSessions",
    "Session",
    "reader",
    "runtime_of",
    "unit_of_work",
    "writer",
]
