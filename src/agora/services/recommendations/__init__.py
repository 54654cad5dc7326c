"""The recommendations service: "bought together", "similar products" and popular items, per product and per user.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
It learns only from events (:mod:`.handlers`): the catalog's products and the paid orders, kept
in its own tables, which are the history :func:`.rebuild.rebuild` recomputes from. It calls no
other service and publishes nothing; the similarity model is refreshed by a periodic task.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.faults import RECOMMENDATION_ERRORS
from agora.platform.service import ServiceSpec
from agora.services.recommendations.endpoints import router
from agora.services.recommendations.handlers import consumers
from agora.services.recommendations.models import metadata
from agora.services.recommendations.runtime import start
from agora.services.recommendations.settings import RecommendationsSettings
from agora.services.recommendations.tasks import periodic

spec = ServiceSpec(
    name="recommendations",
    title="Agora recommendations",
    settings_cls=RecommendationsSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    consumers=consumers,
    periodic=periodic,
    fault_flags=(RECOMMENDATION_ERRORS,),
)

__all__ = ["RecommendationsSettings", "spec"]
