"""What a service is, to the chassis: a spec (static) and a context (built at start-up)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora.platform.cache import ResponseCache
from agora.platform.settings import PlatformSettings, ServiceSettings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from agora.platform.auth import TokenVerifier
    from agora.platform.auth.revocations import RevocationFetcher
    from agora.platform.faults import FaultFlags
    from agora.platform.http.clients import ServiceClient
    from agora.platform.http.pagination import CursorCodec, Cursors
    from agora.platform.idempotency.store import IdempotencyStore
    from agora.platform.messaging import Consumer, Outbox, OutboxRelay, Transport
    from agora.platform.messaging.catchup import StartupCatchUp
    from agora.platform.peers import Peer, Peers
    from agora.platform.tasks import PeriodicTask


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """Everything the chassis needs to run one service; each service's ``__init__`` exports one."""

    name: str
    title: str
    settings_cls: type[ServiceSettings]
    metadata: MetaData
    migrations_dir: Path
    router: APIRouter
    """The service's module-level router (``services/<name>/endpoints.py``)."""
    start: Callable[[ServiceContext], AbstractAsyncContextManager[object]] | None = None
    """The service's composition root: entered once the chassis built the context and before
    consumers, periodic tasks and requests run; what it yields is ``context.runtime`` (a frozen
    dataclass per service), and it is exited in reverse order at shutdown."""
    seed: Callable[[ServiceContext], Awaitable[int]] | None = None
    """Inserts demo data once; returns how many rows it added (0 when already seeded)."""
    consumers: Callable[[ServiceContext], Iterable[Consumer]] | None = None
    """Builds the event consumers (handlers registered) this service runs."""
    periodic: Callable[[ServiceContext], Iterable[PeriodicTask]] | None = None
    """Background work run every few seconds while the service runs (sweeps, saga recovery)."""
    readiness_checks: Callable[[ServiceContext], Mapping[str, Callable[[], Awaitable[object]]]] | None = None
    """Stores beyond the database and the broker that ``/readyz`` must ask (e.g. the cart's Redis)."""
    configure_app: Callable[[FastAPI], None] | None = None
    """Last touches to the service's app after the chassis built it (the web's HTML error pages,
    static files); API services need none."""
    revocations_source: Callable[[ServiceContext], RevocationFetcher] | None = None
    """Where the periodic sync reads the sessions and users in force (docs/architecture.md,
    "Sessions end everywhere"); unset: identity's internal route. Identity reads its own database."""
    depends_on: tuple[str, ...] = ()
    """Services this one calls over HTTP (for start-up order and network policies)."""
    fault_flags: tuple[str, ...] = ()
    """The fault flags it honours (:mod:`agora.platform.faults`); its migrations create ``fault_flags``."""
    port: Callable[[Peer], object] | None = None
    """The direct adapter of the port it offers other services (a Protocol of
    :mod:`agora.contracts.ports`), used in embedded mode instead of HTTP (:mod:`agora.platform.peers`)."""


@dataclass
class ServiceContext:
    """The objects one running service owns; built by the app factory's lifespan."""

    spec: ServiceSpec
    platform: PlatformSettings
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    """Autocommit sessions for single-statement reads (no transaction, nothing to commit)."""
    transport: Transport
    outbox: Outbox
    relay: OutboxRelay
    cursor_codec: CursorCodec
    token_verifier: TokenVerifier
    clients: Callable[[str], ServiceClient]
    read_cache: ResponseCache
    cursors: Cursors
    """Keyset cursors signed for this service (``Cursors`` in :mod:`agora.platform.http.deps`)."""
    idempotency: IdempotencyStore
    """The ``Idempotency-Key`` store its endpoints and its purge task share."""
    runtime: object = None
    """What ``spec.start`` yielded: the service's typed runtime (``runtime_of`` checks its class)."""
    catch_up: StartupCatchUp | None = None
    """Readiness of its events (set once the relay and consumers run): caught up since start-up."""
    faults: FaultFlags | None = None
    """Its fault flags (none for a service that declares no flag)."""
    peers: Peers | None = None
    """Embedded mode: the other services of this process, for direct calls (None when distributed)."""

    @property
    def name(self) -> str:
        return self.spec.name

    def settings_as(self, cls: type[SettingsT]) -> SettingsT:
        """The service's settings as its own class (checked, never cast)."""
        if not isinstance(self.settings, cls):
            raise TypeError(f"{self.name}'s settings are a {type(self.settings).__name__}, not a {cls.__name__}")
        return self.settings


def context_of(connection: HTTPConnection) -> ServiceContext:
    """The service context of a request or websocket: the only key of the lifespan state that
    converted code reads."""
    context: ServiceContext = connection.state.context
    return context
