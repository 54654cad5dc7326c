"""Analytics' HTTP routes under ``/api/analytics``: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from agora.platform.db import Session, after_commit
from agora.platform.db.types import utcnow
from agora.platform.http.problems import require_json
from agora.services.analytics import schemas
from agora.services.analytics.auth import Admin, OptionalSubject, Staff
from agora.services.analytics.metrics import events_total
from agora.services.analytics.models import VIEW
from agora.services.analytics.runtime import Runtime
from agora.services.analytics.service import MAX_TOP, AnalyticsService

PREFIX = "/api/analytics"

SUMMARY_DESCRIPTION = """\
Order analytics for the days `from`..`to` (UTC, inclusive; default: the last 30 days; at most 366).

* `revenue_per_day`: per day and currency, the totals of orders **paid** that day and not
  cancelled since (minor units), with their count;
* `currencies`: per currency, orders, revenue and `average_order_value` (revenue / orders,
  rounded to the nearest minor unit, halves up); amounts are never added across currencies;
* `top_products`: the `top` products by units sold, with their revenue per currency;
* `funnel`: product views (reported by the storefront) → cart additions (`cart.item.added`) →
  checkouts (orders placed or failed) → paid orders, with each step's rate over the one before
  (null when the step before is 0).

Malformed dates or `from` after `to` are a 422 naming `query.from` / `query.to`.
"""

PREDICT_DESCRIPTION = """\
Forecasts a product's units paid per day for the next `horizon_days` (1..90) days, starting today.

**Input**: `product_id` (catalog id) and `horizon_days`.
**Model**: Holt's linear exponential smoothing fitted on the product's daily paid units (orders
not cancelled) from its first sale in the last 365 days up to yesterday, days without sales
counted as 0; `alpha`/`beta` chosen by least one-step squared error.
**Output**: per day `units` (expected), `lower`/`upper` (95% prediction interval from the
residuals' standard deviation, widening with the horizon, clipped at 0), and the fitted model.

A product never ordered is a 404 naming `product_id`; fewer than 14 days of history is a 422
naming `product_id`.
"""

ANALYZE_DESCRIPTION = """\
Flags orders whose amount or velocity is unusual, with scikit-learn's IsolationForest
(`random_state=0`: the same data gives the same answer).

**Input** (all optional): `from`, `to` (days, UTC, inclusive; default the last 90 days) and
`contamination`, the expected share of anomalies in (0, 0.5] (default 0.02: the 2% of orders
easiest to isolate are flagged).
**Features** per order with a total: its amount (robust z-score of log(total) within its
currency) and its user's velocity (the user's orders in the 24 hours up to it).
**Output**: the flagged orders, most anomalous first, with `score` (~0.5 ordinary, toward 1
unusual), `amount_z` and `orders_24h`, so a person can see why.

Fewer than 20 orders in the period is a 422 naming `from`. Where scikit-learn is not installed
(the common container image; `agora-ml` has it), a 503 with `reason` `ml_not_installed`.
"""


router = APIRouter(prefix=PREFIX, tags=["analytics"])


@router.post(
    "/events",
    status_code=202,
    response_model=schemas.EventAccepted,
    responses={422: {}},
    summary="Record a storefront event (product_view); anonymous visitors allowed",
    dependencies=[Depends(require_json)],
)
async def record_event(
    session: Session, subject: OptionalSubject, body: schemas.BehaviourEvent
) -> schemas.EventAccepted:
    user_id = subject.id if subject is not None else None
    await AnalyticsService(session).record_activity(VIEW, body.product_id, user_id, utcnow())
    after_commit(session, lambda: events_total.labels(body.type).inc())
    return schemas.EventAccepted()


@router.get(
    "/orders/summary",
    responses={401: {}, 403: {}, 422: {}},
    summary="Revenue per day and currency, average order value, top products, conversion funnel",
    description=SUMMARY_DESCRIPTION,
)
async def summary(
    session: Session,
    _staff: Staff,
    start: Annotated[schemas.Day | None, Query(alias="from", description="First day (YYYY-MM-DD, UTC).")] = None,
    end: Annotated[schemas.Day | None, Query(alias="to", description="Last day, inclusive (YYYY-MM-DD, UTC).")] = None,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="How many top products.")] = 10,
) -> dict[str, Any]:
    return await AnalyticsService(session).summary(start, end, top=top)


@router.post(
    "/ml/predict",
    response_model=schemas.PredictResponse,
    responses={401: {}, 403: {}, 404: {}, 422: {}},
    summary="Demand forecast per product (Holt's exponential smoothing, 95% interval)",
    description=PREDICT_DESCRIPTION,
    dependencies=[Depends(require_json)],
)
async def predict(runtime: Runtime, session: Session, _admin: Admin, body: schemas.PredictRequest) -> dict[str, Any]:
    return await AnalyticsService(session).predict(
        body.product_id.lower(), body.horizon_days, history_days=runtime.settings.forecast_history_days
    )


@router.post(
    "/ml/analyze",
    response_model=schemas.AnalyzeResponse,
    response_model_by_alias=True,
    responses={401: {}, 403: {}, 422: {}, 503: {}},
    summary="Anomalous orders by amount and velocity (IsolationForest)",
    description=ANALYZE_DESCRIPTION,
    dependencies=[Depends(require_json)],
)
async def analyze(session: Session, _admin: Admin, body: schemas.AnalyzeRequest) -> dict[str, Any]:
    return await AnalyticsService(session).analyze(body.from_, body.to, body.contamination)
