"""What a service is, to the chassis: a spec (static) and a context (built at start-up)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agora.platform.cache import ResponseCache
from agora.platform.settings import PlatformSettings, ServiceSettings

if TYPE_CHECKING:
    from agora.platform.auth import TokenVerifier
    from agora.platform.auth.revocations import RevocationFetcher
    from agora.platform.faults import FaultFlags
    from agora.platform.http.clients import ServiceClient
    from agora.platform.http.pagination import CursorCodec
    from agora.platform.messaging import Consumer, Outbox, OutboxRelay, Transport
    from agora.platform.messaging.catchup import StartupCatchUp
    from agora.platform.tasks import PeriodicTask


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the chassis needs to run one service; each service's ``__init__`` exports one."""

    name: str
    title: str
    settings_cls: type[ServiceSettings]
    build_router: Callable[[], APIRouter]
    metadata: MetaData
    migrations_dir: Path
    seed: Callable[[ServiceContext], Awaitable[int]] | None = None
    """Inserts demo data once; returns how many rows it added (0 when already seeded)."""
    consumers: Callable[[ServiceContext], Iterable[Consumer]] | None = None
    """Builds the event consumers (handlers registered) this service runs."""
    periodic: Callable[[ServiceContext], Iterable[PeriodicTask]] | None = None
    """Background work run every few seconds while the service runs (sweeps, saga recovery)."""
    readiness_checks: Callable[[ServiceContext], Mapping[str, Callable[[], Awaitable[object]]]] | None = None
    """Stores beyond the database and the broker that ``/readyz`` must ask (e.g. the cart's Redis)."""
    on_shutdown: Callable[[ServiceContext], Awaitable[None]] | None = None
    """Closes what the service opened lazily (a Redis client); runs before the engine is disposed."""
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
    extras: dict[str, Any] = field(default_factory=dict)
    catch_up: StartupCatchUp | None = None
    """Readiness of its events (set once the relay and consumers run): caught up since start-up."""
    faults: FaultFlags | None = None
    """Its fault flags (none for a service that declares no flag)."""

    @property
    def name(self) -> str:
        return self.spec.name
