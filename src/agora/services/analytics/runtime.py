"""Analytics' composition root: ``start`` builds its runtime once, at start-up.

Analytics calls no other service and keeps no client: its runtime holds its settings, typed (the
forecast's history length, the seed's days). NumPy and scikit-learn are not part of it: they are
imported when a forecast or an anomaly run first needs them (the ``ml`` extra stays optional).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from agora.platform.http.deps import runtime_of
from agora.platform.service import ServiceContext
from agora.services.analytics.settings import AnalyticsSettings


@dataclass(frozen=True)
class AnalyticsRuntime:
    settings: AnalyticsSettings


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[AnalyticsRuntime]:
    yield AnalyticsRuntime(settings=context.settings_as(AnalyticsSettings))


Runtime = Annotated[AnalyticsRuntime, Depends(runtime_of(AnalyticsRuntime))]
"""Analytics' runtime, for its endpoints."""
