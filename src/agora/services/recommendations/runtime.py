"""Recommendations' composition root: ``start`` builds its runtime once, at start-up.

What it keeps beyond the chassis's context is the in-memory similarity model of this process
(:class:`~.similarity.SimilarityHolder`, one per running service, so per process and replica)
and how it is kept fresh: each replica rebuilds its own when the shared product table's
watermark moved (see :mod:`.tasks`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db.types import iso_utc
from agora.platform.http.deps import runtime_of
from agora.platform.peers import runtime_in
from agora.platform.service import ServiceContext
from agora.services.recommendations import metrics
from agora.services.recommendations.repository import RecommendationsRepository
from agora.services.recommendations.service import product_text
from agora.services.recommendations.settings import RecommendationsSettings
from agora.services.recommendations.similarity import ProductText, SimilarityHolder, SimilarityModel, Watermark


@dataclass(frozen=True)
class RecommendationsRuntime:
    settings: RecommendationsSettings
    read_sessions: async_sessionmaker[AsyncSession]
    similarity: SimilarityHolder
    """This process's similarity model, swapped whole when a new one is built."""

    async def refresh(self, *, force: bool = False) -> bool:
        """Rebuilds the model if the product table changed since it was built (always with ``force``)."""
        async with self.read_sessions() as session:
            count, last = await RecommendationsRepository(session).watermark()
        watermark = Watermark(count, iso_utc(last) if last is not None else None)

        async def load() -> list[ProductText]:
            async with self.read_sessions() as session:
                return [product_text(p) for p in await RecommendationsRepository(session).active_products()]

        built = await self.similarity.refresh(load, watermark, top_k=self.settings.similar_top_k, force=force)
        if built:
            metrics.model_builds_total.inc()
        return built

    async def current_model(self) -> SimilarityModel:
        """The model, built now if this process has none yet (a request before the first refresh)."""
        if not self.similarity.built:
            await self.refresh()
        return self.similarity.model


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[RecommendationsRuntime]:
    yield RecommendationsRuntime(
        settings=context.settings_as(RecommendationsSettings),
        read_sessions=context.read_sessions,
        similarity=SimilarityHolder(),
    )


def recommendations_runtime(context: ServiceContext) -> RecommendationsRuntime:
    """The runtime ``start`` built, for the periodic task and ``agora rebuild-recommendations``."""
    return runtime_in(context, RecommendationsRuntime)


Runtime = Annotated[RecommendationsRuntime, Depends(runtime_of(RecommendationsRuntime))]
"""Recommendations' runtime, for its endpoints."""
