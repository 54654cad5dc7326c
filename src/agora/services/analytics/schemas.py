"""Analytics' request and response models (pydantic), documented for the OpenAPI description."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agora.contracts.analytics import UUID_PATTERN, BehaviourEvent
from agora.contracts.catalog import Money
from agora.platform.validation import IsoDay

MAX_HORIZON_DAYS = 90
MAX_CONTAMINATION = 0.5
#: a day as YYYY-MM-DD, never a number of seconds
Day = Annotated[date, IsoDay]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventAccepted(BaseModel):
    accepted: bool = True


class PredictRequest(_Request):
    product_id: str = Field(
        min_length=36, max_length=36, pattern=UUID_PATTERN, description="The product to forecast (catalog id)."
    )
    horizon_days: int = Field(ge=1, le=MAX_HORIZON_DAYS, description="Days to forecast, 1 to 90, starting today.")


class ForecastDay(BaseModel):
    date: date
    units: float = Field(description="Expected units paid for that day (never negative).")
    lower: float = Field(description="Lower bound of the prediction interval (clipped at 0).")
    upper: float = Field(description="Upper bound of the prediction interval.")


class ForecastModel(BaseModel):
    name: str = Field(description='Always "holt" (linear exponential smoothing).')
    alpha: float = Field(description="Level smoothing, chosen by least one-step squared error.")
    beta: float = Field(description="Trend smoothing, chosen with alpha.")
    sigma: float = Field(description="Standard deviation of the one-step residuals (units/day).")
    level: float
    trend: float = Field(description="Units/day change per day at the end of the history.")
    observations: int = Field(description="Days of history fitted (zeros included).")
    history_from: date
    history_to: date


class PredictResponse(BaseModel):
    product_id: str
    horizon_days: int
    confidence: float = Field(description="Coverage of the interval (0.95).")
    model: ForecastModel
    forecast: list[ForecastDay]


class AnalyzeRequest(_Request):
    from_: Day | None = Field(
        default=None, alias="from", description="First day (UTC) of orders to analyze; default: 90 days before `to`."
    )
    to: Day | None = Field(default=None, description="Last day (UTC), inclusive; default: today.")
    contamination: float | None = Field(
        default=None,
        gt=0,
        le=MAX_CONTAMINATION,
        description="Expected share of anomalous orders, in (0, 0.5]; default 0.02.",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FlaggedOrder(BaseModel):
    order_id: str
    user_id: str
    total: Money
    at: str = Field(description="When the order was placed (ISO 8601, UTC).")
    score: float = Field(description="Anomaly score, -score_samples: ~0.5 ordinary, toward 1 unusual.")
    amount_z: float = Field(description="Robust z-score of log(total) within the order's currency.")
    orders_24h: int = Field(description="Orders of the same user in the 24 hours up to this one.")


class AnalyzeResponse(BaseModel):
    from_: date = Field(alias="from")
    to: date
    orders_analyzed: int
    contamination: float
    flagged: list[FlaggedOrder]


__all__ = [
    "MAX_CONTAMINATION",
    "MAX_HORIZON_DAYS",
    "AnalyzeRequest",
    "AnalyzeResponse",
    "BehaviourEvent",
    "Day",
    "EventAccepted",
    "FlaggedOrder",
    "ForecastDay",
    "ForecastModel",
    "PredictRequest",
    "PredictResponse",
]
