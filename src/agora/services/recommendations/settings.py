"""``RecommendationsSettings``: the similarity model's refresh and size, from ``AGORA_RECOMMENDATIONS_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agora.platform.settings import ServiceSettings


class RecommendationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "recommendations"

    port: int = Field(default=8110, ge=1, le=65535)

    model_refresh_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the similarity model checks whether the product table changed (and rebuilds if so).

    Product events only mark the table changed; a burst of them (a catalog import) costs one rebuild.
    """
    similar_top_k: int = Field(default=50, ge=1, le=500)
    """Similar products kept per product in the in-memory model."""
