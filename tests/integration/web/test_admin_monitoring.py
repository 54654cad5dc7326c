"""The admin console's arithmetic: what is read from an exposition, percentiles from buckets, the
chart geometry (gaps stay gaps); what the sampler asks of each service, and that it samples only
while the console is watched."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agora.platform.observability.metrics import metrics_response
from agora.services.web import monitoring
from agora.services.web.monitoring import (
    CHARTED_SAMPLES,
    Sampler,
    Series,
    line_chart,
    nice_ceiling,
    parse_metrics,
    quantile,
)
from tests.support.servers import serving

EXPOSITION = """\
# HELP agora_http_requests_total HTTP requests handled.
# TYPE agora_http_requests_total counter
agora_http_requests_total{service="catalog",method="GET",route="/api/catalog/products",status="200"} 90.0
agora_http_requests_total{service="catalog",method="GET",route="/api/catalog/products",status="503"} 10.0
agora_http_requests_total{service="orders",method="POST",route="/api/orders/checkout",status="201"} 4.0
# HELP agora_http_request_duration_seconds Duration.
# TYPE agora_http_request_duration_seconds histogram
agora_http_request_duration_seconds_bucket{service="catalog",method="GET",route="/a",le="0.1"} 50.0
agora_http_request_duration_seconds_bucket{service="catalog",method="GET",route="/a",le="0.5"} 90.0
agora_http_request_duration_seconds_bucket{service="catalog",method="GET",route="/a",le="+Inf"} 100.0
agora_http_request_duration_seconds_count{service="catalog",method="GET",route="/a"} 100.0
agora_http_request_duration_seconds_sum{service="catalog",method="GET",route="/a"} 12.0
# HELP agora_orders_checkouts_total Checkouts.
# TYPE agora_orders_checkouts_total counter
agora_orders_checkouts_total{outcome="paid"} 3.0
agora_orders_checkouts_total{outcome="card_declined"} 1.0
# HELP agora_orders_revenue_minor_total Revenue.
# TYPE agora_orders_revenue_minor_total counter
agora_orders_revenue_minor_total{currency="EUR"} 4500.0
"""


def test_an_exposition_gives_requests_errors_buckets_orders_and_revenue() -> None:
    sample = parse_metrics([EXPOSITION, ""], at=1.0)
    catalog = sample.services["catalog"]
    assert catalog.requests == 100 and catalog.errors == 10
    assert catalog.buckets == ((0.1, 50.0), (0.5, 90.0), (math.inf, 100.0))
    assert sample.services["orders"].requests == 4
    assert sample.paid_orders == 3 and sample.revenue == {"EUR": 4500.0}


def test_an_orders_service_with_no_checkout_yet_has_zero_paid_orders_and_none_without_it() -> None:
    orders_only = 'agora_http_requests_total{service="orders",method="GET",route="/x",status="200"} 1.0\n'
    assert parse_metrics([orders_only], at=0).paid_orders == 0
    assert parse_metrics([""], at=0).paid_orders is None


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 0.1), (0.25, 0.05), (0.7, 0.3), (0.99, 0.5)],
)
def test_quantiles_interpolate_inside_the_bucket(q: float, expected: float) -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (math.inf, 100.0)]
    assert quantile(q, buckets) == pytest.approx(expected)


def test_no_observation_has_no_quantile() -> None:
    assert quantile(0.5, []) is None
    assert quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None


def test_a_gap_splits_a_line_and_the_axis_is_rounded_up() -> None:
    chart = line_chart(
        "c", "Title", [Series("a", [(0, 1.0), (1, 2.0), (2, None), (3, 3.0), (4, 4.0)])], y_label="req/s"
    )
    assert len(chart.lines[0].segments) == 2
    assert chart.lines[0].latest == "4.00"
    assert chart.y_ticks[-1][1] == "5.00"
    assert "a: 4.00 (peak 4.00)" in chart.summary
    assert nice_ceiling(0) == 1.0 and nice_ceiling(7) == 10 and nice_ceiling(0.03) == pytest.approx(0.05)


def test_a_service_first_counted_between_two_samples_has_a_rate_and_one_that_vanishes_a_gap() -> None:
    sampler = Sampler(cast(Any, None), window=10, interval=2.0)
    line = 'agora_http_requests_total{{service="currency",method="GET",route="/x",status="200"}} {}\n'
    sampler.samples.extend(
        [
            parse_metrics([""], at=0.0),  # nothing counted yet: the label does not exist
            parse_metrics([line.format(40)], at=2.0),
            parse_metrics([""], at=4.0),  # the process did not answer
            parse_metrics([line.format(3)], at=6.0),  # restarted: counted from zero again
        ]
    )
    (currency,) = sampler.request_rates()
    assert currency.name == "currency"
    assert currency.points == [(2.0, 20.0), (4.0, None), (6.0, 1.5)]


def test_one_paid_order_is_one_in_the_last_minute_and_revenue_is_in_major_units() -> None:
    """Issue 17: one order drew a spike of 30 "per minute" (a 2 s sample scaled to a minute), and
    revenue was in cents."""
    sampler = Sampler(cast(Any, None), window=100, interval=2.0)
    orders = (
        'agora_orders_checkouts_total{{outcome="paid"}} {}\nagora_orders_revenue_minor_total{{currency="USD"}} {}\n'
    )
    readings = [(0, 0), (0, 0), (1, 53996), (1, 53996)] + [(1, 53996)] * 30  # one $539.96 order at t=4 s
    sampler.samples.extend(
        parse_metrics([orders.format(n, cents)], at=2.0 * i, one_process=True) for i, (n, cents) in enumerate(readings)
    )
    paid, (usd,) = sampler.orders()
    assert max(value or 0 for _, value in paid.points) == 1.0
    assert dict(paid.points)[6.0] == 1.0 and dict(paid.points)[66.0] == 0.0  # counted for a minute, then gone
    assert max(value or 0 for _, value in usd.points) == pytest.approx(539.96)


async def test_each_service_is_asked_for_the_charted_samples_only_over_one_kept_connection() -> None:
    """Distributed, the sampler reads every service every 2 s: only the four charted samples
    (``/metrics?name[]=...``, not the ~20 KB exposition) through one client whose connections are
    kept from one sample to the next (not a client and a connection per service per sample)."""
    asked: list[tuple[list[str], int]] = []
    answered: list[str] = []

    async def metrics(request: Request) -> Response:
        assert request.client is not None
        names = request.query_params.getlist("name[]")
        asked.append((names, request.client.port))
        body, content_type = metrics_response(names)
        answered.append(body.decode())
        return Response(body, media_type=content_type)

    async with serving(Starlette(routes=[Route("/metrics", metrics)])) as address:
        platform = SimpleNamespace(service_urls={"catalog": f"http://{address}"})
        sampler = Sampler(cast(Any, platform), window=10, interval=2.0)
        try:
            await sampler.sample()
            await sampler.sample()
        finally:
            await sampler.close()
    assert [names for names, _ in asked] == [list(CHARTED_SAMPLES)] * 2
    assert asked[0][1] == asked[1][1]  # the same client port: the connection was kept
    everything = _sample_names(metrics_response()[0].decode())
    assert everything - set(CHARTED_SAMPLES)  # the whole exposition has more (the process's own)
    assert _sample_names(answered[-1]) <= set(CHARTED_SAMPLES)
    assert sampler.taken == 2


def _sample_names(exposition: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and not line.startswith("#")}


async def test_the_sampler_samples_only_while_the_console_is_watched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody reading the charts: the periodic run takes no sample. From a view on it does,
    until ``watch_seconds`` after the last view."""
    platform = SimpleNamespace(service_urls={})  # embedded: this process's registry
    sampler = Sampler(cast(Any, platform), window=10, interval=2.0, watch_seconds=60.0)

    assert await sampler.sample_while_watched() is None
    assert sampler.taken == 0 and not sampler.samples

    await sampler.viewed()  # resuming: a first sample at once
    assert sampler.taken == 1
    assert await sampler.sample_while_watched() is not None
    await sampler.viewed()  # still watched: no extra sample, the window is kept
    assert sampler.taken == 2 and len(sampler.samples) == 2

    now = monitoring.time.monotonic()
    monkeypatch.setattr(monitoring.time, "monotonic", lambda: now + 61.0)
    assert not sampler.watched
    assert await sampler.sample_while_watched() is None
    assert sampler.taken == 2

    later = sampler.samples[-1].at + 61.0
    monkeypatch.setattr(monitoring.time, "time", lambda: later)
    await sampler.viewed()  # back after the pause: sampling again, the old samples dropped
    assert sampler.watched
    assert len(sampler.samples) == 1 and sampler.taken == 3
