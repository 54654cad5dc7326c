"""Alerts reach people, for real (issue 15, item 6).

``agora up --distributed`` runs three services as their own processes on a private NATS; Debian's
Prometheus scrapes each of them (the scrape jobs come from the service graph,
:func:`agora.deploy.observability.scrape_configs`) while traffic flows through the front, and
sends its alerts to Debian's Alertmanager, which mails this test's SMTP server and posts to this
test's webhook. The fault is real: two service processes are frozen (SIGSTOP, a hung process:
alive to the supervisor, silent to Prometheus) under traffic, so their ``up`` drops to 0 and
``AgoraTargetDown`` fires, exactly as :mod:`agora.deploy.observability` writes it but with
``for: 3s`` (:func:`quick_rule_groups`). Alertmanager must group both alerts into one notification
per receiver and not repeat it while Prometheus keeps re-sending them every second; thawed, the
alert resolves and the resolved notification arrives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from agora.deploy.observability import Routing, alertmanager_config, quick_rule_groups, scrape_configs
from agora.platform.testing.brokers import PrivateNats
from agora.platform.testing.processes import (
    agora_command,
    free_port,
    free_port_block,
    running_process,
    serving_pids,
    wait_until_ready,
)
from tests.integration.notifications.support import smtp_server
from tests.observability.conftest import prometheus_tool

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(240)]

#: the services started, in the order of their ports; the last two are frozen
SERVICES = ("identity", "catalog", "currency")
FROZEN = ("catalog", "currency")
ALERT = "AgoraTargetDown"
#: what the traffic asks for, one path per service
PATHS = ("/api/identity/.well-known/jwks.json", "/api/catalog/products?limit=5", "/api/currency/currencies")
#: Alertmanager's batching, short for the test: wait 5 s for a group's other alerts, tell of its
#: changes at most every 4 s, and repeat an unchanged group only after an hour (never, here)
ROUTING = Routing(group_wait="5s", group_interval="4s", repeat_interval="1h", group_by=("alertname",))

T = TypeVar("T")


def polled(check: Callable[[], T | None], *, within: float, what: str) -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (result := check()) is not None:
            return result
        time.sleep(0.25)  # polling servers of other processes: there is no event to await
    raise AssertionError(f"timed out after {within:g}s waiting for {what}")


class Webhook:
    """An HTTP server that keeps every JSON notification Alertmanager posts."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        lock = threading.Lock()
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._lock = lock

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.notifications)

    @contextlib.contextmanager
    def serving(self) -> Iterator[Webhook]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)


class Traffic:
    """Requests to every service through the front, a few a second, until stopped."""

    def __init__(self, base: str) -> None:
        self._client = httpx.Client(base_url=base, timeout=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in PATHS:
                with contextlib.suppress(httpx.HTTPError):  # a frozen service answers nothing
                    self._client.get(path)
            self._stop.wait(0.1)

    @contextlib.contextmanager
    def flowing(self) -> Iterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
            self._client.close()


def query(prometheus: httpx.Client, expr: str) -> list[dict[str, Any]]:
    body = prometheus.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]  # type: ignore[no-any-return]


def by_job(prometheus: httpx.Client, expr: str) -> dict[str, float]:
    return {series["metric"]["job"]: float(series["value"][1]) for series in query(prometheus, expr)}


def alertmanager_received(alertmanager: httpx.Client) -> float:
    """How many firing alerts Alertmanager has been sent so far (Prometheus re-sends each one)."""
    text = alertmanager.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alertmanager_alerts_received_total") and 'status="firing"' in line
    )


def test_a_frozen_service_is_mailed_and_posted_once_then_resolved(tmp_path: Path, private_nats: PrivateNats) -> None:
    with smtp_server() as (mailbox, smtp_port), Webhook().serving() as webhook:
        port, first_service_port = free_port(), free_port_block(len(SERVICES))
        ports = {name: first_service_port + offset for offset, name in enumerate(SERVICES)}
        only = [argument for name in SERVICES for argument in ("--only", name)]
        shop_command = agora_command(
            "up", "--distributed", "--port", str(port), "--first-service-port", str(first_service_port),
            "--data-dir", str(tmp_path / "var"), *only,
        )  # fmt: skip
        shop_env = {"AGORA_ENVIRONMENT": "development", "AGORA_BROKER_URL": private_nats.url}

        alertmanager_port, prometheus_port = free_port(), free_port()
        email = {
            "to": "oncall@agora.test",
            "from": "alertmanager@agora.test",
            "smarthost": f"127.0.0.1:{smtp_port}",
            "require_tls": False,
        }
        (tmp_path / "alertmanager.yml").write_text(
            yaml.safe_dump(alertmanager_config(ROUTING, email=email, webhook_url=webhook.url))
        )
        (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": quick_rule_groups({ALERT}, "3s")}))
        prometheus_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
            "scrape_configs": scrape_configs(lambda name: f"127.0.0.1:{ports[name]}", SERVICES),
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config))
        alertmanager_command = [
            prometheus_tool("prometheus-alertmanager"),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{alertmanager_port}",
            "--cluster.listen-address=",  # no gossip port on every interface: a single instance
        ]
        prometheus_command = [
            prometheus_tool("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            # re-send firing alerts every second (1 min by default): Alertmanager must deduplicate
            "--rules.alert.resend-delay=1s",
        ]

        with contextlib.ExitStack() as running:
            shop = running.enter_context(running_process(shop_command, log_path=tmp_path / "up.log", env=shop_env))
            wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout=150, process=shop)
            # Prometheus only once the services listen: a target scraped before would be down already
            for command, name, listen in (
                (alertmanager_command, "alertmanager", alertmanager_port),
                (prometheus_command, "prometheus", prometheus_port),
            ):
                process = running.enter_context(running_process(command, log_path=tmp_path / f"{name}.log"))
                wait_until_ready(f"http://127.0.0.1:{listen}/-/ready", timeout=30, process=process)
            prometheus = running.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{prometheus_port}", timeout=10))
            alertmanager = running.enter_context(
                httpx.Client(base_url=f"http://127.0.0.1:{alertmanager_port}", timeout=10)
            )
            frozen: list[int] = []
            with Traffic(f"http://127.0.0.1:{port}").flowing():
                try:
                    _served_and_scraped(prometheus)
                    assert webhook.received() == [], "nothing to tell before the fault"
                    frozen = [pid for name in FROZEN for pid in serving_pids([ports[name]])]
                    assert len(frozen) == len(FROZEN), f"one process per frozen service: {frozen}"
                    for pid in frozen:
                        os.kill(pid, signal.SIGSTOP)
                    _notified_once(webhook, mailbox, alertmanager)
                finally:
                    for pid in frozen:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGCONT)
                _resolved(webhook, mailbox, prometheus)


def _served_and_scraped(prometheus: httpx.Client) -> None:
    """Every service is up for Prometheus, under its own job, with its RED series moving."""
    polled(
        lambda: True if set(by_job(prometheus, "up == 1")) == set(SERVICES) else None,
        within=30,
        what="every service scraped",
    )
    # each job is the service it names: the pool gauge carries the service's own label
    pools = query(prometheus, "agora_db_pool_size")
    assert {(s["metric"]["job"], s["metric"]["service"]) for s in pools} == {(name, name) for name in SERVICES}
    api = 'route=~"/api/.+"'
    rates = polled(
        lambda: (
            found
            if set(found := by_job(prometheus, f"sum by (job) (rate(agora_http_requests_total{{{api}}}[10s])) > 0"))
            == set(SERVICES)
            else None
        ),
        within=30,
        what="requests per second of every service",
    )
    assert all(rate > 0 for rate in rates.values()), rates
    errors = f'sum by (job) (rate(agora_http_requests_total{{{api}, status=~"5.."}}[10s])) > 0'
    assert by_job(prometheus, errors) == {}, "no errors before the fault"
    latency = by_job(
        prometheus,
        f"histogram_quantile(0.95, sum by (job, le) (rate(agora_http_request_duration_seconds_bucket{{{api}}}[10s])))",
    )
    assert set(latency) == set(SERVICES) and all(0 < seconds < 10 for seconds in latency.values()), latency


def _firing(notification: dict[str, Any]) -> bool:
    return bool(notification["status"] == "firing")


def _notified_once(webhook: Webhook, mailbox: Any, alertmanager: httpx.Client) -> None:
    """One notification per receiver for the group of both frozen services, and no repeat."""
    notifications = polled(lambda: webhook.received() or None, within=60, what="the webhook's notification")
    assert len(notifications) == 1, notifications
    first = notifications[0]
    assert _firing(first) and first["groupLabels"] == {"alertname": ALERT}
    assert sorted(alert["labels"]["job"] for alert in first["alerts"]) == sorted(FROZEN), first["alerts"]
    assert all(alert["status"] == "firing" for alert in first["alerts"])
    assert all(alert["annotations"]["runbook_url"].endswith(f"/{ALERT}.md") for alert in first["alerts"])
    mails = polled(lambda: mailbox.messages("oncall@agora.test") or None, within=30, what="the email")
    assert len(mails) == 1, [m["Subject"] for m in mails]
    mail = mails[0]
    assert mail["Subject"].startswith(f"[FIRING:{len(FROZEN)}] {ALERT}"), mail["Subject"]

    # Prometheus keeps sending both alerts every second: let it do so well past two group
    # intervals, then Alertmanager must still have told each receiver once
    seen = alertmanager_received(alertmanager)
    polled(
        lambda: True if alertmanager_received(alertmanager) >= seen + 10 * len(FROZEN) else None,
        within=30,
        what="Prometheus to re-send the firing alerts ten more times",
    )
    assert [n["status"] for n in webhook.received()] == ["firing"], "the repeats were not deduplicated"
    assert len(mailbox.messages("oncall@agora.test")) == 1, "the repeats were not deduplicated"


def _resolved(webhook: Webhook, mailbox: Any, prometheus: httpx.Client) -> None:
    """Thawed, the services are scraped again and a resolved notification reaches both receivers."""
    polled(
        lambda: True if set(by_job(prometheus, "up == 1")) == set(SERVICES) else None,
        within=30,
        what="the thawed services scraped again",
    )
    resolved = polled(
        lambda: next((n for n in webhook.received() if n["status"] == "resolved"), None),
        within=60,
        what="the resolved notification",
    )
    assert sorted(alert["labels"]["job"] for alert in resolved["alerts"]) == sorted(FROZEN)
    assert all(alert["status"] == "resolved" for alert in resolved["alerts"])
    polled(
        lambda: [m for m in mailbox.messages("oncall@agora.test") if m["Subject"].startswith("[RESOLVED]")] or None,
        within=30,
        what="the resolved email",
    )
