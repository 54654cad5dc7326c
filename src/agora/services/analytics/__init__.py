"""The analytics service: order analytics, the conversion funnel, a demand forecast and anomaly
detection over orders.

Facts come from events only (``orders.order.*``, ``cart.item.added``, see :mod:`.handlers`) and
from the storefront's product views (``POST /api/analytics/events``), into analytics' own
tables; the seed writes 90 days of demo history so the reports and the ML routes answer on a
fresh install. Its spec is the only thing the registry needs.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.analytics.endpoints import router
from agora.services.analytics.handlers import consumers
from agora.services.analytics.models import metadata
from agora.services.analytics.runtime import start
from agora.services.analytics.seed import seed
from agora.services.analytics.settings import AnalyticsSettings

spec = ServiceSpec(
    name="analytics",
    title="Agora analytics",
    settings_cls=AnalyticsSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    seed=seed,
    consumers=consumers,
)

__all__ = ["AnalyticsSettings", "spec"]
