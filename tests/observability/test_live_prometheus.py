"""Every PromQL expression of the rules and the dashboards, evaluated by a real Prometheus that scraped a real
``agora up`` after a short journey (browse, login, one checkout): each must evaluate, and each
metric it names must exist in what the platform exported. A rule about a metric nobody exports
would otherwise stay silent forever, the worst kind of alert."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agora.deploy.dashboards import prometheus_exprs
from agora.deploy.observability import RULES_DIR, rule_groups
from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready
from tests.observability.conftest import prometheus_tool
from tests.support.shop import ADDRESS, GOOD_CARD, register_shopper

pytestmark = pytest.mark.slow

#: PromQL keywords and label-only words that look like metric names to the pattern below
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring"})
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_NAMES = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects. Hand-written: Prometheus 2.42 (Debian's) has
    no parse API and no maintained Python PromQL parser exists; with the strings, label matchers,
    label lists and ranges removed, what remains that is not a function call or a keyword is a
    metric name."""
    for pattern in (_STRINGS, _MATCHERS, _LABEL_LISTS, _RANGES):
        expr = pattern.sub(" ", expr)
    return {name for name in _NAMES.findall(expr) if name not in _KEYWORDS}


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'sum by (service) (rate(agora_http_requests_total{status=~"5.."}[5m]))\n'
        "  / clamp_min(sum(rate(agora_http_request_duration_seconds_count[1h])), 1e-9) > 0.05\n"
        "unless on (source) agora:slo_errors:ratio_rate5m offset 5m and changes(up[30m]) > 2"
    )
    assert metric_names(expr) == {
        "agora_http_requests_total",
        "agora_http_request_duration_seconds_count",
        "agora:slo_errors:ratio_rate5m",
        "up",
    }


def _polled(check: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _oldest_products(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """The first products seeded: inventory stocks products in the order their events arrive, and
    the catalog lists the newest first."""
    products: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        page = client.get("/api/catalog/products", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        products.extend(page.json()["items"])
        if (cursor := page.json()["next_cursor"]) is None:
            break
    return products[::-1][:count]


def _journey(client: httpx.Client) -> None:
    """Browse, log in, put a stocked product in the cart, pay: the SLO routes all get traffic."""
    _, user = register_shopper(client)
    products = _oldest_products(client, 20)

    def stocked() -> dict[str, Any] | None:
        for product in products:
            stock = client.get(f"/api/inventory/stock/{product['sku']}")
            if stock.status_code == 200 and stock.json()["available"] > 0:
                return product  # type: ignore[no-any-return]
        return None

    product = _polled(stocked, within=90, what="a product in stock")
    assert client.get(f"/api/catalog/products/{product['id']}").status_code == 200
    added = client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=user)
    assert added.status_code in (200, 201), added.text
    paid = client.post(
        "/api/orders/checkout",
        json={"currency": "USD", "shipping_address": ADDRESS, "card": GOOD_CARD},
        headers={**user, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert paid.status_code == 201, paid.text


def _prometheus_config(directory: Path, target: str) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_DIR / "alerts.yml")],
        "scrape_configs": [{"job_name": "agora", "static_configs": [{"targets": [target]}]}],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class Prometheus:
    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.client.get("/api/v1/query", params={"query": expr}).json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    directory = tmp_path_factory.mktemp("live-prometheus")
    binary = prometheus_tool("prometheus")
    port, prometheus_port = free_port(), free_port()
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING"}
    command = agora_command("up", "--port", str(port), "--data-dir", str(directory / "var"))
    with running_process(command, log_path=directory / "agora.log", env=env) as shop:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=shop)
        scraper = [
            binary,
            f"--config.file={_prometheus_config(directory, f'127.0.0.1:{port}')}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--storage.tsdb.retention.time=1h",
        ]
        with running_process(scraper, log_path=directory / "prometheus.log") as server:
            wait_until_ready(f"http://127.0.0.1:{prometheus_port}/-/ready", timeout=30, process=server)
            live = Prometheus(f"http://127.0.0.1:{prometheus_port}")
            # a first scrape before the journey: its counters' zero is then a sample to increase from
            _polled(lambda: live.query('up{job="agora"} == 1'), within=30, what="a first scrape")
            with httpx.Client(base_url=base, timeout=30) as client:
                _journey(client)
            # the journey's counters in at least two scrapes, and the SLO ratios recorded from them
            _polled(
                lambda: live.query('agora:slo_errors:ratio_rate5m{slo="checkout", sli="availability"}'),
                within=30,
                what="the checkout SLO ratio",
            )
            yield live


def _rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def _exprs() -> list[str]:
    return [rule["expr"] for rule in _rules()] + prometheus_exprs()


def test_every_metric_a_rule_or_a_dashboard_names_is_exported(prometheus: Prometheus) -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    names = {name for expr in _exprs() for name in metric_names(expr)}
    assert {"agora_http_requests_total", "agora_outbox_pending", "agora_orders_revenue_minor_total"} <= names
    missing = sorted(name for name in names if not prometheus.query(f'count({{__name__="{name}"}})'))
    assert missing == [], f"rules or dashboards name metrics nobody exports (or rules record nothing): {missing}"
    assert recorded <= names  # the alerts and dashboards use every ratio the recording rules make
    # and the check can fail: a name nobody exports has no series
    assert prometheus.query('count({__name__="agora_no_such_metric_total"})') == []


def test_every_rule_and_dashboard_expression_evaluates(prometheus: Prometheus) -> None:
    for expr in _exprs():
        prometheus.query(expr)


def test_the_dashboards_show_the_journey(prometheus: Prometheus) -> None:
    """The checkout funnel and revenue move after one paid checkout: their series exist at zero
    from the start (pre-initialised), so the first increment is an increase Prometheus can see."""
    paid = prometheus.query('sum(agora_orders_checkouts_total{outcome="paid"})')
    assert paid and float(paid[0]["value"][1]) == 1
    assert float(prometheus.query('sum(increase(agora_orders_checkouts_total{outcome="paid"}[5m]))')[0]["value"][1]) > 0
    revenue = prometheus.query("sum by (currency) (rate(agora_orders_revenue_minor_total[5m])) > 0")
    assert [series["metric"]["currency"] for series in revenue] == ["USD"]
    # every other currency is there, at zero: absent() and rate() work before the first sale
    assert len(prometheus.query("sum by (currency) (agora_orders_revenue_minor_total)")) > 1
    statuses = prometheus.query("sum by (status) (agora_orders_total) > 0")
    assert {series["metric"]["status"] for series in statuses} == {"pending", "paid"}


def test_the_slo_ratios_of_the_journey(prometheus: Prometheus) -> None:
    """Every SLO got traffic in the journey, none of it failing: each ratio is recorded, and the
    availability ones are zero (no 5xx)."""
    series = prometheus.query("agora:slo_errors:ratio_rate5m")
    ratios = {(s["metric"]["slo"], s["metric"]["sli"]): float(s["value"][1]) for s in series}
    assert set(ratios) == {(slo, sli) for slo in ("browse", "checkout", "login") for sli in ("availability", "latency")}
    assert all(ratios[(slo, "availability")] == 0 for slo in ("browse", "checkout", "login")), ratios
    assert prometheus.query('up{job="agora"} == 1'), "Prometheus scraped the shop"
    assert prometheus.query('ALERTS{alertstate="firing", alertname=~"AgoraErrorBudgetBurn.*"}') == []
