"""Objects a service builds on first use and keeps on its context until shutdown.

The cart and media (not yet on their typed composition root) keep a few objects in
``context.extras``: built lazily (a consumer or a request may need it first), closed by the
spec's ``on_shutdown``. A converted service holds them on its runtime instead (an
:class:`agora.platform.first_use.OnFirstUse` field for what is built on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from agora.platform.service import ServiceContext


class Closable(Protocol):
    async def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


def kept(context: ServiceContext, key: str, build: Callable[[], T]) -> T:
    """The object kept under ``key``, built by ``build`` the first time it is asked for."""
    found: T | None = context.extras.get(key)
    if found is None:
        found = build()
        context.extras[key] = found
    return found


async def close_kept(context: ServiceContext, key: str) -> None:
    """Closes and forgets the object kept under ``key`` (nothing when it was never built)."""
    found: Closable | None = context.extras.pop(key, None)
    if found is not None:
        await found.close()
