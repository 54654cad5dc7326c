"""What the recommendations service answers: the shape clients (the storefront) may rely on.

Recommendations publishes no events; it consumes ``catalog.product.*`` and ``orders.order.paid``.

Compatibility rule (as for every contract): fields are only ever added, with defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Why an item is recommended, in the order the reasons rank: what others bought with it first,
#: then what reads like it, then what sells in its category (the cold start).
Reason = Literal["bought_together", "similar", "popular"]
REASONS: tuple[Reason, ...] = ("bought_together", "similar", "popular")

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
PRODUCT_ID_LENGTH = 64


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Recommendation(_Contract):
    product_id: str
    score: float = Field(description="Strength within its reason: co-purchases, cosine similarity, or units sold.")
    reason: Reason


class Recommendations(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``GET /api/recommendations/products/{id}`` and ``GET /api/recommendations/me``."""

    items: list[Recommendation]


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PRODUCT_ID_LENGTH",
    "REASONS",
    "Reason",
    "Recommendation",
    "Recommendations",
]
