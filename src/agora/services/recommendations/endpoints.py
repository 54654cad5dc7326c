"""Recommendations' HTTP routes under ``/api/recommendations``: parse, call the service, shape the response.

Both reads use autocommit read sessions and the in-memory similarity model; ``limit`` is 1..50
(default 10), a product id is at most 64 letters, digits and dashes (the catalog's UUIDs).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from agora.contracts.recommendations import DEFAULT_LIMIT, MAX_LIMIT, PRODUCT_ID_LENGTH
from agora.platform.faults import RECOMMENDATION_ERRORS, failed_requests
from agora.platform.http.deps import ReadSessions
from agora.platform.http.problems import ServiceUnavailable
from agora.platform.http.responses import json_response
from agora.services.recommendations import schemas
from agora.services.recommendations.auth import CurrentSubject
from agora.services.recommendations.runtime import Runtime
from agora.services.recommendations.service import Item, RecommendationsService

PREFIX = "/api/recommendations"

ProductIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=PRODUCT_ID_LENGTH,
        pattern=r"^[A-Za-z0-9-]+$",
        description="The catalog product's id (a UUID).",
    ),
]
UNAVAILABLE = {"description": "Recommendations are unavailable (the recommendation-errors fault flag)."}
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"How many items, 1 to {MAX_LIMIT}.")]


def _document(items: list[Item]) -> Response:
    return json_response({"items": [item.document() for item in items]})


def _unavailable(detail: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"Recommendations are unavailable: {detail}.")


# the recommendation-errors fault flag fails reads with a 503 (agora.platform.faults); the
# storefront shows its pages without the row then
router = APIRouter(
    prefix=PREFIX,
    tags=["recommendations"],
    dependencies=[Depends(failed_requests(RECOMMENDATION_ERRORS, _unavailable))],
)


@router.get(
    "/products/{product_id}",
    response_model=None,
    responses={200: {"model": schemas.Recommendations}, 404: {}, 422: {}, 503: UNAVAILABLE},
    summary="What to show next to a product: bought together, then similar, then popular in its category",
)
async def for_product(
    runtime: Runtime, sessions: ReadSessions, product_id: ProductIdPath, limit: LimitQuery = DEFAULT_LIMIT
) -> Response:
    model = await runtime.current_model()
    async with sessions() as session:
        items = await RecommendationsService(session).for_product(product_id, limit=limit, model=model)
    return _document(items)


@router.get(
    "/me",
    response_model=None,
    responses={200: {"model": schemas.Recommendations}, 401: {}, 422: {}, 503: UNAVAILABLE},
    summary="For the signed-in customer, from what they bought (never what they bought); popular when new",
)
async def for_me(
    runtime: Runtime, sessions: ReadSessions, subject: CurrentSubject, limit: LimitQuery = DEFAULT_LIMIT
) -> Response:
    model = await runtime.current_model()
    async with sessions() as session:
        items = await RecommendationsService(session).for_user(subject.id, limit=limit, model=model)
    return _document(items)
