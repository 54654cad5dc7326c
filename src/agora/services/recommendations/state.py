"""The in-memory similarity model of one running service and how it is kept fresh.

It lives in ``context.extras`` (one per running service, so per process and replica); each
replica rebuilds its own when the shared product table's watermark moved (see :mod:`.tasks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.platform.db.types import iso_utc
from agora.services.recommendations import metrics
from agora.services.recommendations.repository import RecommendationsRepository
from agora.services.recommendations.service import product_text
from agora.services.recommendations.settings import RecommendationsSettings
from agora.services.recommendations.similarity import ProductText, SimilarityHolder, SimilarityModel, Watermark

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

EXTRA_KEY = "recommendations.similarity"


def holder_of(context: ServiceContext) -> SimilarityHolder:
    holder = context.extras.get(EXTRA_KEY)
    if holder is None:
        holder = context.extras[EXTRA_KEY] = SimilarityHolder()
    assert isinstance(holder, SimilarityHolder)
    return holder


async def refresh_similarity(context: ServiceContext, *, force: bool = False) -> bool:
    """Rebuilds the model if the product table changed since it was built (always with ``force``)."""
    settings = context.settings
    assert isinstance(settings, RecommendationsSettings)
    async with context.read_sessions() as session:
        count, last = await RecommendationsRepository(session).watermark()
    watermark = Watermark(count, iso_utc(last) if last is not None else None)

    async def load() -> list[ProductText]:
        async with context.read_sessions() as session:
            return [product_text(p) for p in await RecommendationsRepository(session).active_products()]

    built = await holder_of(context).refresh(load, watermark, top_k=settings.similar_top_k, force=force)
    if built:
        metrics.model_builds_total.inc()
    return built


async def current_model(context: ServiceContext) -> SimilarityModel:
    """The model, built now if this process has none yet (a request before the first refresh)."""
    holder = holder_of(context)
    if not holder.built:
        await refresh_similarity(context)
    return holder.model
