"""Anomalous orders: scikit-learn's IsolationForest over two features per order.

* **amount**: ``log(1 + total)`` as a robust z-score within the order's currency (median and
  median absolute deviation of that currency's orders), so a yen order is not "large" for being
  in yen;
* **velocity**: how many orders the same user placed in the 24 hours up to and including this
  one, as ``log(1 + n)``.

The forest is seeded (``random_state=0``): the same orders always give the same flags. The score
is ``-score_samples`` (about 0.5 for ordinary orders, closer to 1 the easier an order is to
isolate); an order is flagged when the forest's ``predict`` says -1, i.e. its score passes the
threshold that ``contamination`` (the expected share of anomalies) sets, or scikit-learn's
"auto" threshold when none is given.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agora.platform.workers import in_fresh_interpreter

#: Fewer orders than this and "unusual" means nothing.
MIN_ORDERS = 20
VELOCITY_WINDOW = timedelta(hours=24)
RANDOM_STATE = 0
MAX_SAMPLES = 4096


class TooFewOrders(ValueError):
    """Fewer than :data:`MIN_ORDERS` orders to learn from."""


@dataclass(frozen=True)
class OrderPoint:
    order_id: str
    user_id: str
    currency: str
    total: int
    at: datetime


@dataclass(frozen=True)
class Scored:
    order: OrderPoint
    score: float
    flagged: bool
    amount_z: float
    orders_24h: int


def _amount_z(points: Sequence[OrderPoint]) -> list[float]:
    import numpy as np  # with the first scoring, not at start-up (see score_orders)

    by_currency: dict[str, list[float]] = defaultdict(list)
    for point in points:
        by_currency[point.currency].append(math.log1p(max(point.total, 0)))
    stats = {}
    for currency, values in by_currency.items():
        array = np.asarray(values)
        median = float(np.median(array))
        mad = float(np.median(np.abs(array - median))) * 1.4826
        stats[currency] = (median, mad if mad > 1e-9 else max(float(np.std(array)), 1e-9))
    return [(math.log1p(max(p.total, 0)) - stats[p.currency][0]) / stats[p.currency][1] for p in points]


def _velocity(points: Sequence[OrderPoint]) -> list[int]:
    times: dict[str, list[datetime]] = defaultdict(list)
    for point in points:
        times[point.user_id].append(point.at)
    for values in times.values():
        values.sort()
    out = []
    for point in points:
        series = times[point.user_id]
        # orders of this user in (at - 24h, at]
        out.append(bisect_right(series, point.at) - bisect_right(series, point.at - VELOCITY_WINDOW))
    return out


async def score_elsewhere(points: Sequence[OrderPoint], *, contamination: float | None = None) -> list[Scored]:
    """:func:`score_orders` in a fresh interpreter (the service process never imports
    scikit-learn: one scoring left ``agora up`` 108 MB larger for good, the bulk of the growth
    ``benchmarks/hostile_memory.py`` measured when the fuzzing reached ``/ml/analyze``)."""
    if len(points) < MIN_ORDERS:
        raise TooFewOrders(f"needs at least {MIN_ORDERS} orders, got {len(points)}")
    scored = await in_fresh_interpreter(f"{__name__}:score_orders", list(points), contamination=contamination)
    assert isinstance(scored, list)
    return scored


def score_orders(points: Sequence[OrderPoint], *, contamination: float | None = None) -> list[Scored]:
    """Scores every order (same order as ``points``); raises :class:`TooFewOrders` below the minimum."""
    if len(points) < MIN_ORDERS:
        raise TooFewOrders(f"needs at least {MIN_ORDERS} orders, got {len(points)}")
    # scikit-learn (with SciPy and NumPy, ~100 MiB resident that a process never gives back) is
    # imported here only: the service calls score_elsewhere, which runs this in a child process
    import numpy as np
    from sklearn.ensemble import IsolationForest

    amount_z = _amount_z(points)
    velocity = _velocity(points)
    features = np.column_stack([np.asarray(amount_z), np.log1p(np.asarray(velocity, dtype=float))])
    forest = IsolationForest(
        n_estimators=200,
        # every order in every tree (up to MAX_SAMPLES): with the default 256-order subsamples an
        # extreme amount is masked, as it lands in the same edge leaf as the largest ordinary one
        max_samples=min(len(points), MAX_SAMPLES),
        contamination="auto" if contamination is None else contamination,
        random_state=RANDOM_STATE,
    )
    forest.fit(features)
    scores = -forest.score_samples(features)
    flags = forest.predict(features) == -1
    return [
        Scored(order=p, score=float(s), flagged=bool(f), amount_z=float(z), orders_24h=int(v))
        for p, s, f, z, v in zip(points, scores, flags, amount_z, velocity, strict=True)
    ]


__all__ = ["MIN_ORDERS", "OrderPoint", "Scored", "TooFewOrders", "score_elsewhere", "score_orders"]
