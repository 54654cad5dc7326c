"""The cart's composition root: ``start`` builds its runtime once, at start-up.

Beyond the chassis's context the cart keeps its view of the catalog (the catalog's port: direct
when embedded, HTTP when distributed; :mod:`.pricing`) and, when carts live in Redis, the one
Redis store of the running service. That store is built on first use (an
:class:`~agora.platform.first_use.OnFirstUse`): redis-py is imported with the first cart read or
write, not at start-up, and ``start`` closes the client after its ``yield`` if it was built.
``/readyz`` pings Redis on a connection of its own (``redis_readiness``), building nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.first_use import OnFirstUse, redis_readiness
from agora.platform.http.deps import runtime_of
from agora.platform.imports import import_redis
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.cart.pricing import CatalogPrices, catalog_prices
from agora.services.cart.repository import SqlCartStore
from agora.services.cart.service import CartService, uses_redis
from agora.services.cart.settings import CartSettings
from agora.services.cart.store import CartStore

if TYPE_CHECKING:  # redis-py: imported with the first cart read or write (see redis_store)
    from agora.services.cart.redis_store import RedisCartStore


@dataclass(frozen=True)
class CartRuntime:
    settings: CartSettings
    outbox: Outbox
    prices: CatalogPrices
    """The catalog, as the cart prices and checks products."""
    redis: OnFirstUse[RedisCartStore] | None
    """The Redis store (built on first use) when carts live in Redis (``uses_redis``), else None:
    the SQL store, in each request's transaction."""

    def store(self, session: AsyncSession) -> CartStore:
        """Redis when configured (one client per running service), else SQL in ``session``'s transaction."""
        return self.redis.get() if self.redis is not None else SqlCartStore(session)

    def service(self, session: AsyncSession) -> CartService:
        """The cart's rules over its store; ``cart.item.added`` goes to the outbox in ``session``."""
        return CartService(self.store(session), self.prices, self.settings, session=session, events=self.outbox)


def _redis_store(url: str, settings: CartSettings) -> RedisCartStore:
    import_redis()
    from agora.services.cart.redis_store import RedisCartStore, connect

    return RedisCartStore(connect(url, timeout=settings.redis_timeout_seconds), prefix=settings.redis_key_prefix)


async def _close(store: RedisCartStore) -> None:
    await store.redis.aclose()


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[CartRuntime]:
    settings = context.settings_as(CartSettings)
    url = context.platform.redis_url
    redis = None
    if uses_redis(settings, context.platform) and url is not None:
        redis = OnFirstUse(lambda: _redis_store(url, settings), _close)
    try:
        yield CartRuntime(settings=settings, outbox=context.outbox, prices=catalog_prices(context), redis=redis)
    finally:
        if redis is not None:
            await redis.close()


def readiness_checks(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    """``/readyz`` asks Redis too when carts live there."""
    return redis_readiness(context) if uses_redis(context.settings_as(CartSettings), context.platform) else {}


Runtime = Annotated[CartRuntime, Depends(runtime_of(CartRuntime))]
"""The cart's runtime, for its endpoints."""
