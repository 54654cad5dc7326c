"""Connection pools that fit a budget: how many connections each service process may hold.

A PostgreSQL server admits ``max_connections`` clients (100 by default) across every database it
holds. In distributed mode every service process has its own pool, and sixteen pools of twenty
opened 320 connections against that server ("sorry, too many clients already"). So the pools are
sized from one budget, ``AGORA_DATABASE_CONNECTION_BUDGET`` (80 by default: headroom for
migrations, operator commands and a psql), divided over the pools that share the server:

* ``agora serve`` and embedded mode: the budget over ``AGORA_DATABASE_POOL_SHARES`` pools (by
  default one per service of this build), at most :data:`POOL_CAP` each;
* ``agora up --distributed`` knows every service's URL: it splits the budget per server
  (:func:`split_budget`) and hands each child its ``AGORA_<SERVICE>_DATABASE_POOL_SIZE``;
* ``AGORA_<SERVICE>_DATABASE_POOL_SIZE`` set by hand always wins (the split counts it).

A request that finds every pooled connection busy waits for one (never opens more), at most
``AGORA_DATABASE_POOL_TIMEOUT`` seconds and behind at most ``AGORA_DATABASE_POOL_QUEUE`` others;
past either bound the pool raises :class:`PoolSaturated` / SQLAlchemy's ``TimeoutError``, which
the HTTP layer answers with 503 and ``Retry-After``. The relay, the consumers and periodic work
take their connections from the same pool, so they are inside the budget too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from agora.topology import SERVICE_NAMES

if TYPE_CHECKING:
    from agora.platform.settings import PlatformSettings, ServiceSettings

#: The most connections one pool gets by default: on a few cores more connections than this only
#: queue inside the database server instead of in the process.
POOL_CAP = 20


class PoolSaturated(PoolTimeoutError):
    """Every pooled connection is busy and the wait queue is full: the caller should retry later."""


class BoundedQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool with a bound on how many callers may wait for a connection.

    SQLAlchemy bounds the wait in time only (``pool_timeout``); under a burst every request would
    queue for the full timeout, holding memory and the client's patience, before failing anyway.
    Here a caller that would have to wait behind ``max_waiting`` others fails at once. The bound
    is a class attribute (set per engine by :func:`bounded_pool_class`) because SQLAlchemy builds
    the pool, and rebuilds it in ``recreate()``, from ``self.__class__`` with its own arguments.
    """

    max_waiting: ClassVar[int] = 0
    _waiting: int = 0
    #: log under ``sqlalchemy.pool`` as the stock pool does (WARNING unless asked), not as ``agora.*``
    _sqla_logger_namespace: ClassVar[str] = "sqlalchemy.pool.impl.BoundedQueuePool"

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection right now (exported as ``agora_db_pool_waiting``)."""
        return self._waiting

    def _do_get(self) -> ConnectionPoolEntry:
        if self._pool.qsize() > 0 or self._overflow < self._max_overflow:
            return super()._do_get()  # a connection is free or may be opened: no queueing
        if self._waiting >= self.max_waiting:
            raise PoolSaturated(
                f"{self._waiting} requests already wait for one of {self.size()} connections", code="3o7r"
            )
        # one event loop runs every caller (SQLAlchemy's greenlets): the counter needs no lock
        self._waiting += 1
        try:
            return super()._do_get()
        finally:
            self._waiting -= 1


def bounded_pool_class(max_waiting: int) -> type[BoundedQueuePool]:
    return type("BoundedQueuePool", (BoundedQueuePool,), {"max_waiting": max_waiting})


def default_pool_size(budget: int, shares: int) -> int:
    """One pool's share of ``budget`` split ``shares`` ways: at least 1, at most :data:`POOL_CAP`."""
    return max(1, min(POOL_CAP, budget // max(1, shares)))


def pool_size_for(settings: ServiceSettings, platform: PlatformSettings) -> int:
    """The service's own ``AGORA_<SERVICE>_DATABASE_POOL_SIZE``, or its share of the budget."""
    if settings.database_pool_size is not None:
        return settings.database_pool_size
    shares = platform.database_pool_shares or len(SERVICE_NAMES)
    return default_pool_size(platform.database_connection_budget, shares)


def server_of(url: str) -> str | None:
    """``host:port`` of a database server, or None for a file database (SQLite has no server)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    return f"{parsed.host or 'localhost'}:{parsed.port or ''}"


def split_budget(urls: Mapping[str, str], budget: int, fixed: Mapping[str, int]) -> dict[str, int]:
    """Pool size per service, for services whose database URLs are ``urls``.

    Services whose databases live on one server share ``budget`` (PostgreSQL and MariaDB count
    connections per server, whichever database they open); a service alone on its server gets
    the whole budget up to :data:`POOL_CAP`. ``fixed`` sizes (set by hand) are kept and counted.
    Services on SQLite are left out: a file database has no connection limit to share.
    """
    by_server: dict[str, list[str]] = {}
    for service, url in urls.items():
        server = server_of(url)
        if server is not None:
            by_server.setdefault(server, []).append(service)
    sizes: dict[str, int] = {}
    for services in by_server.values():
        free = [name for name in services if name not in fixed]
        left = budget - sum(fixed[name] for name in services if name in fixed)
        sizes.update({name: fixed[name] for name in services if name in fixed})
        sizes.update(dict.fromkeys(free, default_pool_size(left, len(free))))
    return sizes


def connections_per_server(urls: Mapping[str, str], sizes: Mapping[str, int]) -> dict[str, int]:
    """How many connections the pools in ``sizes`` may open on each server, at most."""
    totals: dict[str, int] = {}
    for service, size in sizes.items():
        server = server_of(urls[service])
        if server is not None:
            totals[server] = totals.get(server, 0) + size
    return totals
