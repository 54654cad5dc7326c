"""The Grafana dashboards of deploy/observability/grafana/dashboards/, as plain dicts in Grafana's
dashboard JSON model (schema 39), written by ``python -m agora.deploy.observability`` with the rules.

Plain dicts rather than grafana-foundation-sdk: the handful of panel kinds used here (time series,
stat, logs) need no builder, and the JSON model is what Grafana provisions anyway. Every PromQL
target is evaluated by tests/observability against a real Prometheus that scraped ``agora up``
(``$service`` standing for every service, ``$__rate_interval`` for 5m).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agora.deploy.observability import ROOT, SLOS, ratio_record

DASHBOARDS_DIR = ROOT / "deploy" / "observability" / "grafana" / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
RATE = "$__rate_interval"
WIDTH = 24


def panel(title: str, *exprs: tuple[str, str], kind: str = "timeseries", unit: str = "short") -> dict[str, Any]:
    """One panel; ``exprs`` are (PromQL, legend) pairs. Position and id are set by :func:`dashboard`."""
    return {
        "type": kind,
        "title": title,
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + index), "expr": expr, "legendFormat": legend}
            for index, (expr, legend) in enumerate(exprs)
        ],
    }


def per_second(title: str, metric: str, by: str, selector: str = "") -> dict[str, Any]:
    """A rate panel: ``metric`` per second, summed by the comma-separated labels ``by``."""
    legend = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(","))
    selected = f"{metric}{{{selector}}}" if selector else metric
    return panel(title, (f"sum by ({by}) (rate({selected}[{RATE}]))", legend), unit="reqps")


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], *, service_variable: bool = False) -> dict[str, Any]:
    """Panels two by two, 12 columns wide and 8 rows high each."""
    for index, item in enumerate(panels):
        item["id"] = index + 1
        item["gridPos"] = {"x": (index % 2) * 12, "y": (index // 2) * 8, "w": 12, "h": 8}
    templating: list[dict[str, Any]] = []
    if service_variable:
        templating.append(
            {
                "name": "service",
                "type": "query",
                "datasource": PROMETHEUS,
                "query": {"query": "label_values(agora_http_requests_total, service)", "refId": "service"},
                "refresh": 2,
                "includeAll": True,
                "multi": True,
                "current": {"text": "All", "value": "$__all"},
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["agora"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": templating},
        "panels": panels,
    }


def overview() -> dict[str, Any]:
    logs = {
        "type": "logs",
        "title": "Errors in the logs",
        "datasource": LOKI,
        "targets": [{"refId": "A", "expr": '{job="containers", level="error"}'}],
    }
    return dashboard(
        "agora-overview",
        "Agora overview",
        [
            per_second("Requests per second, by service", "agora_http_requests_total", "service"),
            per_second(
                "Server errors (5xx) per second, by service", "agora_http_requests_total", "service", 'status=~"5.."'
            ),
            panel(
                "Latency p95, by service",
                (
                    "histogram_quantile(0.95, sum by (service, le) "
                    f"(rate(agora_http_request_duration_seconds_bucket[{RATE}])))",
                    "{{service}}",
                ),
                unit="s",
            ),
            logs,
            panel("Scrape targets up", ("sum(up)", "up"), ("count(up)", "targets"), kind="stat"),
            panel(
                "Resident memory, by process",
                ("sum by (process) (process_resident_memory_bytes)", "{{process}}"),
                unit="bytes",
            ),
        ],
    )


def service_red() -> dict[str, Any]:
    selected = 'service=~"$service"'
    return dashboard(
        "agora-service-red",
        "Agora per-service RED",
        [
            per_second("Rate: requests per second, by route", "agora_http_requests_total", "route", selected),
            panel(
                "Errors: share of 5xx, by route",
                (
                    f'sum by (route) (rate(agora_http_requests_total{{{selected}, status=~"5.."}}[{RATE}]))'
                    f" / sum by (route) (rate(agora_http_requests_total{{{selected}}}[{RATE}]))",
                    "{{route}}",
                ),
                unit="percentunit",
            ),
            panel(
                "Duration: p50 / p95 / p99",
                *(
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(agora_http_request_duration_seconds_bucket{{{selected}}}[{RATE}])))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ),
                unit="s",
            ),
            panel("In flight", (f"sum(agora_http_requests_in_progress{{{selected}}})", "requests"), unit="short"),
            per_second(
                "Outgoing calls per second, by target and status", "agora_http_client_requests_total", "target, status"
            ),
            panel(
                "Circuit breakers (0 closed, 1 open, 2 half-open)",
                ("max by (target) (agora_circuit_breaker_state)", "{{target}}"),
            ),
            panel(
                "Database pool: connections in use, idle, waiting callers",
                (f"sum(agora_db_pool_connections_in_use{{{selected}}})", "in use"),
                (f"sum(agora_db_pool_connections_idle{{{selected}}})", "idle"),
                (f"sum(agora_db_pool_waiting{{{selected}}})", "waiting"),
                (f"sum(agora_db_pool_size{{{selected}}})", "pool size"),
            ),
        ],
        service_variable=True,
    )


def checkout() -> dict[str, Any]:
    return dashboard(
        "agora-checkout",
        "Agora checkout funnel and revenue",
        [
            panel(
                "Funnel: cart adds, checkouts, paid (per minute)",
                (f'sum(rate(agora_cart_operations_total{{operation="add"}}[{RATE}])) * 60', "cart adds"),
                (f"sum(rate(agora_orders_checkouts_total[{RATE}])) * 60", "checkouts"),
                (f'sum(rate(agora_orders_checkouts_total{{outcome="paid"}}[{RATE}])) * 60', "paid"),
            ),
            panel(
                "Checkouts by outcome (per minute)",
                (f"sum by (outcome) (rate(agora_orders_checkouts_total[{RATE}])) * 60", "{{outcome}}"),
            ),
            panel(
                "Revenue per hour, by currency (major units)",
                (f"sum by (currency) (rate(agora_orders_revenue_minor_total[{RATE}])) * 3600 / 100", "{{currency}}"),
            ),
            panel(
                "Payment attempts by outcome (per minute)",
                (f"sum by (outcome) (rate(agora_payments_charges_total[{RATE}])) * 60", "{{outcome}}"),
            ),
            panel(
                "Orders entering each status (per minute)",
                (f"sum by (status) (rate(agora_orders_total[{RATE}])) * 60", "{{status}}"),
            ),
            panel(
                "Payment declines: share of charge attempts",
                (
                    f'sum(rate(agora_payments_charges_total{{outcome="declined"}}[{RATE}]))'
                    f" / clamp_min(sum(rate(agora_payments_charges_total[{RATE}])), 1e-9)",
                    "declined",
                ),
                unit="percentunit",
            ),
            panel(
                "Checkout duration p50 / p95",
                *(
                    (
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(agora_orders_checkout_duration_seconds_bucket[{RATE}])))",
                        f"p{round(q * 100)}",
                    )
                    for q in (0.5, 0.95)
                ),
                unit="s",
            ),
        ],
    )


def event_pipeline() -> dict[str, Any]:
    return dashboard(
        "agora-events",
        "Agora event pipeline",
        [
            panel("Outbox pending, by source", ("max by (source) (agora_outbox_pending)", "{{source}}")),
            panel(
                "Published per second, by source",
                (f"sum by (source) (rate(agora_outbox_published_total[{RATE}]))", "{{source}}"),
                unit="ops",
            ),
            panel(
                "Consumed per second, by consumer and outcome",
                (
                    f"sum by (consumer, outcome) (rate(agora_events_consumed_total[{RATE}]))",
                    "{{consumer}} {{outcome}}",
                ),
                unit="ops",
            ),
            panel("Consumer lag", ("max by (consumer) (agora_consumer_lag_seconds)", "{{consumer}}"), unit="s"),
            panel(
                "Dead-lettered in the last hour, by consumer",
                (
                    'sum by (consumer) (increase(agora_events_consumed_total{outcome="dead_lettered"}[1h]))',
                    "{{consumer}}",
                ),
            ),
            panel(
                "Relay publish failures per minute",
                (f"sum(rate(agora_outbox_publish_failures_total[{RATE}])) * 60", "failures"),
            ),
            panel(
                "Oldest unpublished outbox event, by source",
                ("max by (source) (agora_outbox_oldest_unsent_age_seconds)", "{{source}}"),
                unit="s",
            ),
            panel(
                "Consumer backlog in the broker, by consumer",
                ("max by (consumer) (agora_consumer_backlog_events)", "{{consumer}}"),
            ),
            panel(
                "Dead letters waiting for replay, by consumer",
                ("max by (consumer) (agora_dead_letters)", "{{consumer}}"),
            ),
            panel(
                "Handling time p95 and handler failures per minute, by consumer",
                (
                    "histogram_quantile(0.95, sum by (consumer, le) "
                    f"(rate(agora_event_handling_duration_seconds_bucket[{RATE}])))",
                    "p95 {{consumer}}",
                ),
                (f"sum by (consumer) (rate(agora_event_handler_failures_total[{RATE}])) * 60", "failures {{consumer}}"),
            ),
        ],
    )


def slos() -> dict[str, Any]:
    panels = []
    for slo in SLOS:
        for sli, objective in (("availability", slo.availability), ("latency", slo.latency)):
            match = f'{{slo="{slo.name}", sli="{sli}"}}'
            budget = round(1 - objective, 6)
            panels.append(
                panel(
                    f"{slo.name} {sli} ({objective:.1%}): bad-request ratio and burn rate",
                    (f"{ratio_record('1h')}{match}", "ratio 1h"),
                    (f"{ratio_record('6h')}{match}", "ratio 6h"),
                    (f"{ratio_record('1h')}{match} / {budget}", "burn rate 1h (x budget)"),
                )
            )
    return dashboard("agora-slos", "Agora SLOs", panels)


def boards() -> tuple[dict[str, Any], ...]:
    return (overview(), service_red(), checkout(), event_pipeline(), slos())


def render() -> dict[Path, str]:
    return {DASHBOARDS_DIR / f"{board['uid']}.json": json.dumps(board, indent=2) + "\n" for board in boards()}


def index() -> list[tuple[str, str, bool]]:
    """Each dashboard's uid, title and whether it has the ``service`` variable (``?var-service=``):
    what the admin console links to."""
    return [
        (board["uid"], board["title"], any(v["name"] == "service" for v in board["templating"]["list"]))
        for board in boards()
    ]


def prometheus_exprs() -> list[str]:
    """Every dashboard's PromQL, with Grafana's variables as a test (or a user) would evaluate them."""
    exprs = []
    for text in render().values():
        for item in json.loads(text)["panels"]:
            if item["datasource"] == PROMETHEUS:
                exprs += [target["expr"] for target in item["targets"]]
    return [expr.replace(RATE, "5m").replace('"$service"', '".+"') for expr in exprs]
