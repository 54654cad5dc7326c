"""The forecast and the anomaly detection on synthetic series with a known answer."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agora.services.analytics.anomalies import MIN_ORDERS, OrderPoint, TooFewOrders, score_orders
from agora.services.analytics.forecast import MIN_OBSERVATIONS, TooLittleHistory, holt_forecast


def test_a_steady_series_forecasts_within_its_interval() -> None:
    rng = np.random.default_rng(7)
    history = 20 + rng.normal(0, 2, 150)
    future = 20 + rng.normal(0, 2, 30)
    fitted = holt_forecast(history.tolist(), 30)
    assert len(fitted.points) == 30
    for point in fitted.points:
        assert point.lower < 20 < point.upper  # the true level is inside every interval
        assert abs(point.units - 20) < 2.5
    inside = sum(p.lower <= y <= p.upper for p, y in zip(fitted.points, future, strict=True))
    assert inside >= 27  # a 95% interval covers (about) 95% of what follows
    widths = [p.upper - p.lower for p in fitted.points]
    assert widths == sorted(widths)  # uncertainty grows with the horizon


def test_a_trend_is_followed() -> None:
    series = [5 + 0.5 * day for day in range(60)]
    fitted = holt_forecast(series, 5)
    assert [round(p.units, 1) for p in fitted.points] == [35.0, 35.5, 36.0, 36.5, 37.0]


def test_the_forecast_needs_no_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    series = [5 + 0.5 * day for day in range(60)]
    expected = holt_forecast(series, 5)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as where the ml extra is not installed
    assert holt_forecast(series, 5) == expected


def test_units_are_never_negative_and_short_history_is_refused() -> None:
    falling = [max(0.0, 30 - day) for day in range(40)]
    assert all(p.lower >= 0 and p.units >= 0 for p in holt_forecast(falling, 10).points)
    with pytest.raises(TooLittleHistory):
        holt_forecast([1.0] * (MIN_OBSERVATIONS - 1), 3)


def _orders(count: int, rng: random.Random) -> list[OrderPoint]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        OrderPoint(
            order_id=f"o-{n}",
            user_id=f"u-{rng.randrange(400)}",
            currency="EUR" if n % 5 == 0 else "USD",
            total=int(rng.lognormvariate(8.3, 0.35)),
            at=start + timedelta(minutes=rng.randrange(60 * 24 * 60)),
        )
        for n in range(count)
    ]


def test_a_planted_spike_and_a_burst_are_flagged() -> None:
    rng = random.Random(3)
    orders = _orders(300, rng)
    spike = OrderPoint("spike", "u-1", "USD", 400_000, datetime(2026, 1, 20, 3, tzinfo=UTC))
    burst = [
        OrderPoint(f"burst-{n}", "fast", "USD", 4000, datetime(2026, 2, 2, 1, tzinfo=UTC) + timedelta(minutes=10 * n))
        for n in range(8)
    ]
    scored = {s.order.order_id: s for s in score_orders([*orders, spike, *burst])}
    assert scored["spike"].flagged and scored["spike"].amount_z > 5
    assert max(scored.values(), key=lambda s: s.score).order.order_id == "spike"
    assert scored["burst-7"].flagged and scored["burst-7"].orders_24h == 8
    ordinary = [s for key, s in scored.items() if key.startswith("o-")]
    assert sum(s.flagged for s in ordinary) / len(ordinary) < 0.1  # few false alarms
    # deterministic: the same orders, the same scores
    again = {s.order.order_id: s.score for s in score_orders([*orders, spike, *burst])}
    assert again == {key: s.score for key, s in scored.items()}


def test_contamination_sets_the_share_flagged_and_too_few_orders_are_refused() -> None:
    orders = _orders(200, random.Random(5))
    flagged = [s for s in score_orders(orders, contamination=0.05) if s.flagged]
    assert 8 <= len(flagged) <= 12
    with pytest.raises(TooFewOrders):
        score_orders(orders[: MIN_ORDERS - 1])
