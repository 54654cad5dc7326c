"""``agora rebuild-recommendations``: recompute everything derived from the stored history.

The consumed facts (``products``, ``paid_orders``, ``order_lines``) are the history; this clears
and recomputes ``co_purchases``, ``user_purchases`` and ``popularity`` from them in one
transaction (readers see the old counts or the new ones, never half), then rebuilds this
process's similarity model. The answers equal those of the incremental path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from agora.platform.db import unit_of_work
from agora.services.recommendations.runtime import recommendations_runtime
from agora.services.recommendations.service import RecommendationsService

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)


async def rebuild(context: ServiceContext) -> dict[str, int]:
    """Returns how many orders were replayed and rows written per derived table, plus model size."""
    async with unit_of_work(context) as session:
        counts = await RecommendationsService(session).rebuild()
    runtime = recommendations_runtime(context)
    await runtime.refresh(force=True)
    counts["similarity_products"] = len(runtime.similarity.model)
    log.info("recommendations_rebuilt", **counts)
    return counts
