"""Demand forecast: Holt's linear exponential smoothing with residual-based prediction intervals.

Plain Python, no I/O: the recursions run one day at a time, which NumPy would not speed up, so
the forecast needs no ``ml`` extra (see :mod:`agora.platform.ml`). The model keeps a level and a
trend, updated each day::

    level_t = alpha * y_t + (1 - alpha) * (level_{t-1} + trend_{t-1})
    trend_t = beta * (level_t - level_{t-1}) + (1 - beta) * trend_{t-1}

``alpha`` and ``beta`` are chosen on a grid by the smallest sum of squared one-step-ahead errors.
The h-day-ahead forecast is ``level + h * trend``; its interval is ``± z * sigma * sqrt(v_h)``
with ``sigma`` the standard deviation of the one-step residuals and
``v_h = 1 + sum_{j=1}^{h-1} alpha^2 (1 + j beta)^2`` (the variance of Holt's method as an
ARIMA(0,2,2) state-space model). Units cannot be negative, so the forecast and both bounds are
clipped at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

#: Fewer days than this and a trend cannot be told from noise.
MIN_OBSERVATIONS = 14
ALPHAS = tuple(round(0.05 * step, 2) for step in range(1, 20))  # 0.05, 0.10, ..., 0.95
BETAS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


class TooLittleHistory(ValueError):
    """The series is shorter than :data:`MIN_OBSERVATIONS`."""


@dataclass(frozen=True)
class ForecastPoint:
    units: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Forecast:
    alpha: float
    beta: float
    sigma: float
    level: float
    trend: float
    confidence: float
    points: list[ForecastPoint]


def _smooth(y: Sequence[float], alpha: float, beta: float) -> tuple[float, float, float]:
    """Runs the recursions; returns (sum of squared one-step errors, final level, final trend)."""
    level = y[0]
    warmup = min(7, len(y) - 1)
    trend = (y[warmup] - y[0]) / warmup if warmup else 0.0
    sse = 0.0
    for value in y[1:]:
        predicted = level + trend
        error = value - predicted
        sse += error * error
        new_level = predicted + alpha * error
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return sse, level, trend


def holt_forecast(series: Sequence[float], horizon: int, *, confidence: float = 0.95) -> Forecast:
    """Fits Holt's method on ``series`` (one value per day, oldest first) and forecasts ``horizon`` days."""
    if len(series) < MIN_OBSERVATIONS:
        raise TooLittleHistory(f"needs at least {MIN_OBSERVATIONS} days of history, got {len(series)}")
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    y = [float(value) for value in series]
    best: tuple[float, float, float, float, float] | None = None
    for alpha in ALPHAS:
        for beta in BETAS:
            sse, level, trend = _smooth(y, float(alpha), float(beta))
            if best is None or sse < best[0] - 1e-12:
                best = (sse, float(alpha), float(beta), level, trend)
    assert best is not None
    sse, alpha, beta, level, trend = best
    sigma = math.sqrt(sse / max(len(y) - 3, 1))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    points = []
    variance_sum = 0.0
    for h in range(1, horizon + 1):
        if h > 1:
            variance_sum += (alpha * (1 + (h - 1) * beta)) ** 2
        mean = level + h * trend
        half = z * sigma * math.sqrt(1 + variance_sum)
        points.append(ForecastPoint(units=max(mean, 0.0), lower=max(mean - half, 0.0), upper=max(mean + half, 0.0)))
    return Forecast(alpha=alpha, beta=beta, sigma=sigma, level=level, trend=trend, confidence=confidence, points=points)


__all__ = ["MIN_OBSERVATIONS", "Forecast", "ForecastPoint", "TooLittleHistory", "holt_forecast"]
