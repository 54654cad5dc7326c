"""Run services in-process for API tests: migrated database, lifespan started, httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from agora.platform.service import ServiceSpec
from agora.platform.settings import Environment, PlatformSettings, ServiceSettings


def platform_for_tests(data_dir: Path, *, jwks_file: Path | None = None, **overrides: Any) -> PlatformSettings:
    return PlatformSettings(
        environment=overrides.pop("environment", Environment.test),
        data_dir=data_dir,
        jwks_file=jwks_file,
        broker_url=overrides.pop("broker_url", "memory://"),
        log_json=True,
        **overrides,
    )


@asynccontextmanager
async def running_services(
    specs: Sequence[ServiceSpec],
    platform: PlatformSettings,
    settings: dict[str, ServiceSettings] | None = None,
    *,
    seed: bool = False,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Migrates (and optionally seeds) then starts the services; yields (client, embedded app)."""
    from agora.platform.runtime import EmbeddedApp, migrate_service, seed_service

    embedded = EmbeddedApp(specs, platform, settings=settings)
    for spec in specs:
        await migrate_service(spec, platform, embedded.settings[spec.name])
        if seed:
            await seed_service(spec, platform, embedded.settings[spec.name])
    async with embedded.running():
        transport = httpx.ASGITransport(app=embedded, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://agora.test") as client:
            yield client, embedded
