"""The admin console's observability page: dashboards linked in Grafana, the alerts a real
Alertmanager (Debian's, started here) has firing, and the fault flags switched from the page;
Alertmanager unset or down, the page says so and draws the rest."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from agora.deploy.observability import alertmanager_config
from agora.platform.testing.processes import free_port, running_process, wait_until_ready
from agora.services.web.runtime import web_runtime
from agora.services.web.settings import WebSettings
from tests.integration.web.conftest import Shop, csrf_of
from tests.integration.web.test_admin import admin_of, new_customer
from tests.observability.conftest import prometheus_tool

pytestmark = [pytest.mark.backend("sqlite"), pytest.mark.timeout(120)]

PAGE = "/admin/observability"
GRAFANA = "https://grafana.example.org"


@contextlib.contextmanager
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Debian's Alertmanager on a free loopback port, with no receiver: yields its URL."""
    port = free_port()
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config()))
    command = [
        prometheus_tool("prometheus-alertmanager"),
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running_process(command, log_path=tmp_path / "alertmanager.log") as process:
        wait_until_ready(f"http://127.0.0.1:{port}/-/ready", timeout=30, process=process)
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def web_settings(shop: Shop, **changes: object) -> Iterator[None]:
    """The web runs with ``changes`` to its settings until the block ends."""
    context = shop.embedded.contexts["web"]
    original = web_runtime(context)
    context.runtime = dataclasses.replace(original, settings=original.settings.model_copy(update=changes))
    try:
        yield
    finally:
        context.runtime = original


def fire(url: str, name: str, severity: str, **labels: str) -> None:
    """An alert as Prometheus sends it (Alertmanager's v2 API)."""
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} for the test", "runbook_url": f"https://runbooks.test/{name}.md"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }
    assert httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=10).status_code == 200


async def test_the_page_shows_what_alertmanager_has_firing_and_links_the_dashboards(shop: Shop, tmp_path: Path) -> None:
    admin = await admin_of(shop)
    with alertmanager(tmp_path) as url:
        fire(url, "AgoraPaymentsFailing", "critical")
        fire(url, "AgoraHighErrorRate", "warning", service="recommendations")
        with web_settings(shop, alertmanager_url=url, grafana_url=GRAFANA):
            page = await admin.get(PAGE)
    assert page.status_code == 200, page.text
    firing = re.findall(r'data-alert="([A-Za-z]+)" data-severity="([a-z]+)"', page.text)
    assert firing == [("AgoraPaymentsFailing", "critical"), ("AgoraHighErrorRate", "warning")]
    assert "service=recommendations" in page.text
    assert 'href="https://runbooks.test/AgoraPaymentsFailing.md"' in page.text
    # each service's RED dashboard, and every shared one
    assert html.escape(f"{GRAFANA}/d/agora-service-red?var-service=catalog") in page.text
    for uid in ("agora-overview", "agora-checkout", "agora-events", "agora-slos"):
        assert f'href="{GRAFANA}/d/{uid}"' in page.text, uid


async def test_alertmanager_unset_or_down_degrades_only_the_alerts(shop: Shop) -> None:
    admin = await admin_of(shop)
    page = await admin.get(PAGE)
    assert page.status_code == 200
    assert 'data-alerts="unavailable"' in page.text and "not configured" in page.text
    assert 'data-grafana="unset"' in page.text
    assert 'data-flag="payments/payment-failures"' in page.text, "the flags are drawn all the same"
    with web_settings(shop, alertmanager_url=f"http://127.0.0.1:{free_port()}"):
        down = await admin.get(PAGE)
    assert down.status_code == 200
    assert "Alertmanager does not answer right now" in down.text
    assert 'data-flag="catalog/catalog-latency"' in down.text


async def test_customers_cannot_see_or_switch(shop: Shop) -> None:
    _, customer = await new_customer(shop)
    assert (await customer.get(PAGE)).status_code == 403
    token = await csrf_of(customer, "/")
    switched = await customer.post(
        f"{PAGE}/faults/payments/payment-failures", data={"enabled": "on", "csrf_token": token}
    )
    assert switched.status_code == 403


async def test_a_flag_is_switched_from_the_page_and_a_bad_rate_is_refused(shop: Shop) -> None:
    admin = await admin_of(shop)
    headers = await shop.admin_headers()
    token = await csrf_of(admin, PAGE)
    target = f"{PAGE}/faults/recommendations/recommendation-errors"

    refused = await admin.post(target, data={"enabled": "on", "rate": "lots", "csrf_token": token})
    assert refused.status_code == 422
    assert "Rate:" in refused.text
    assert 'data-flag="recommendations/recommendation-errors" data-state="off"' in refused.text

    on = await admin.post(target, data={"enabled": "on", "rate": "1", "delay_seconds": "", "csrf_token": token})
    assert on.status_code == 303 and on.headers["location"].startswith(PAGE)
    try:
        state = await shop.client.get("/api/recommendations/admin/faults", headers=headers)
        (flag,) = [f for f in state.json()["faults"] if f["flag"] == "recommendation-errors"]
        assert flag["enabled"] is True and flag["rate"] == 1
        assert 'data-state="on"' in (await admin.get(PAGE)).text

        # the storefront degrades as SPEC says: the product page without its recommendations row
        product = await shop.stocked_product()
        assert (await shop.client.get(f"/api/recommendations/products/{product['id']}")).status_code == 503
        page = await shop.person().get(f"/p/{product['id']}")
        assert page.status_code == 200 and "Recommendations are unavailable right now." in page.text
        assert "Add to cart" in page.text
    finally:
        off = await admin.post(target, data={"enabled": "off", "csrf_token": token})
        assert off.status_code == 303
    assert (await shop.client.get(f"/api/recommendations/products/{product['id']}")).status_code == 200


def test_the_addresses_are_urls_and_empty_means_unset() -> None:
    assert WebSettings(grafana_url="", alertmanager_url="").alertmanager_url is None
    assert WebSettings(alertmanager_url="http://alertmanager:9093").alertmanager_url == "http://alertmanager:9093"
    with pytest.raises(ValueError, match="grafana_url"):
        WebSettings(grafana_url="grafana:3000")
