"""The web's composition root: ``start`` builds its runtime once, at start-up.

The web owns no data: what it keeps is its settings, the page templates (one Jinja environment),
the clients of the services it draws pages from (the chassis's, called with the visitor's token:
:class:`~agora.services.web.backend.Backend`), the token verifier that says who the visitor is,
and the admin console's metrics sampler, which the periodic task fills and the charts read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import jinja2
from fastapi import Depends

from agora.platform.auth.verifier import TokenVerifier
from agora.platform.http.clients import ServiceClient
from agora.platform.http.deps import runtime_of
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.platform.tasks import PeriodicTask
from agora.services.web import monitoring
from agora.services.web.settings import WebSettings
from agora.services.web.templating import environment


@dataclass(frozen=True)
class WebRuntime:
    settings: WebSettings
    platform: PlatformSettings
    templates: jinja2.Environment
    clients: Callable[[str], ServiceClient]
    """The chassis's client of each service (made on first use, closed by the chassis)."""
    token_verifier: TokenVerifier
    sampler: monitoring.Sampler

    async def service_health(self) -> list[monitoring.Health]:
        return await monitoring.service_health(self.platform, self.clients("identity"))

    async def service_names(self) -> list[str]:
        """The services of this deployment (for the admin console's per-service pages)."""
        return await monitoring.service_names(self.platform, self.clients("identity"))


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[WebRuntime]:
    settings = context.settings_as(WebSettings)
    sampler = monitoring.Sampler(
        context.platform,
        window=settings.metrics_window,
        interval=settings.metrics_interval,
        watch_seconds=settings.metrics_watch_seconds,
    )
    try:
        yield WebRuntime(
            settings=settings,
            platform=context.platform,
            templates=environment(),
            clients=context.clients,
            token_verifier=context.token_verifier,
            sampler=sampler,
        )
    finally:
        await sampler.close()


def web_runtime(context: ServiceContext) -> WebRuntime:
    """The runtime ``start`` built, for what runs outside an endpoint (periodic tasks, error pages)."""
    runtime = context.runtime
    if not isinstance(runtime, WebRuntime):
        raise TypeError(f"the web's runtime is a {type(runtime).__name__}, not a WebRuntime")
    return runtime


def periodic(context: ServiceContext) -> list[PeriodicTask]:
    """The metrics sampler, every ``WebSettings.metrics_interval`` seconds while the console is
    watched (unwatched, a run only compares a time; the first view takes a sample itself)."""
    sampler = web_runtime(context).sampler
    return [PeriodicTask("web.metrics", sampler.interval, sampler.sample_while_watched, jitter=0.0)]


Runtime = Annotated[WebRuntime, Depends(runtime_of(WebRuntime))]
"""The web's runtime, for its endpoints (through :data:`agora.services.web.pages.ThisVisit`)."""
