"""Each fault flag, switched on under traffic, makes its alert true and its failing span appear;
switched off, the alert is false again (issue 15, item 7).

One ``agora up --distributed`` (identity, catalog, payments, recommendations, each its own process
on a private NATS) for the whole module, exporting spans to this test's OTLP receiver and scraped
every second by Debian's Prometheus (jobs from the service graph). For each flag: traffic of the
kind it breaks flows through the front, an admin switches the flag on over the admin API, the
alert's expression exactly as :mod:`agora.deploy.observability` writes it, its ranges shortened
to a few seconds (:func:`quick_expr`), turns true on Prometheus and a span of the service carries
``fault.flag`` with status ERROR; the flag off, the expression turns false.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import yaml

from agora.deploy.observability import quick_expr, scrape_configs
from agora.platform.testing.brokers import PrivateNats
from agora.platform.testing.processes import (
    agora_command,
    create_admin,
    free_port,
    free_port_block,
    running_process,
    wait_until_ready,
)
from tests.observability.conftest import prometheus_tool
from tests.observability.test_alert_delivery import polled, query
from tests.support.shop import GOOD_CARD
from tests.support.telemetry import OtlpReceiver, ReceivedSpan, otlp_receiver

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(240)]

SERVICES = ("identity", "catalog", "payments", "recommendations")
ADMIN_EMAIL = "faults-admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
#: the alerts' ranges in this test: a few scrapes, so an alert resolves seconds after its fault
WINDOW = "8s"
#: how long an expression may take to turn (the window, scrapes, a slow two-core machine)
TURN = 30.0


@dataclass
class Live:
    base: str
    admin: dict[str, str]
    prometheus: httpx.Client
    receiver: OtlpReceiver
    product_id: str

    def switch(self, service: str, flag: str, **body: object) -> None:
        answer = httpx.put(f"{self.base}/api/{service}/admin/faults/{flag}", json=body, headers=self.admin, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["enabled"] is body["enabled"]

    def alert_is(self, alert: str, state: bool) -> None:
        expr = quick_expr(alert, WINDOW)
        polled(
            lambda: True if bool(query(self.prometheus, expr)) is state else None,
            within=TURN,
            what=f"{alert} {'true' if state else 'false'}: {expr}",
        )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("faults")
    nats = PrivateNats(tmp / "nats")
    nats.start()
    # the receiver outlives the processes that export to it (their last batches at shutdown)
    with otlp_receiver() as (receiver, endpoint), contextlib.ExitStack() as running:
        running.callback(nats.stop)
        env = {
            "AGORA_ENVIRONMENT": "development",
            "AGORA_BROKER_URL": nats.url,
            "AGORA_OTLP_ENDPOINT": endpoint,
            "AGORA_LOG_LEVEL": "WARNING",
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s, not every 5 s
            # the relay backs off from this after a failed publish: short, so it drains soon after
            "AGORA_RELAY_POLL_INTERVAL": "0.2",
        }
        data_dir = str(tmp / "var")
        create_admin(ADMIN_EMAIL, data_dir=data_dir, env={**env, "AGORA_ADMIN_PASSWORD": ADMIN_PASSWORD})
        port, first = free_port(), free_port_block(len(SERVICES))
        ports = {name: first + offset for offset, name in enumerate(SERVICES)}
        only = [argument for name in SERVICES for argument in ("--only", name)]
        command = agora_command(
            "up", "--distributed", "--port", str(port), "--first-service-port", str(first),
            "--data-dir", data_dir, *only,
        )  # fmt: skip
        shop = running.enter_context(running_process(command, log_path=tmp / "up.log", env=env))
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=150, process=shop)

        prometheus_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs(lambda name: f"127.0.0.1:{ports[name]}", SERVICES),
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        prometheus_command = [
            prometheus_tool("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        process = running.enter_context(running_process(prometheus_command, log_path=tmp / "prometheus.log"))
        wait_until_ready(f"http://127.0.0.1:{prometheus_port}/-/ready", timeout=30, process=process)
        prometheus = running.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{prometheus_port}", timeout=10))

        login = httpx.post(f"{base}/api/identity/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        products = httpx.get(f"{base}/api/catalog/products", params={"limit": 1}).json()["items"]
        polled(
            lambda: True if {s["metric"]["job"] for s in query(prometheus, "up == 1")} == set(SERVICES) else None,
            within=30,
            what="every service scraped",
        )
        yield Live(base, admin, prometheus, receiver, products[0]["id"])


@contextlib.contextmanager
def traffic(live: Live, request: Callable[[httpx.Client], object]) -> Iterator[None]:
    """``request`` through the front, again and again (two at a time), until the block ends."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=live.base, timeout=10, headers=live.admin) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    request(client)
                stop.wait(0.05)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)


def failing_span(live: Live, service: str, flag: str, *, exception: bool) -> ReceivedSpan:
    def found(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
        for span in spans:
            if span.service == service and span.attributes.get("fault.flag") == flag and span.error:
                if not exception or "exception" in span.events:
                    return span
        return None

    return live.receiver.wait_for(found, within=TURN, what=f"a failing span of {service} with fault.flag={flag}")


def in_a_request_trace(live: Live, span: ReceivedSpan, route: str) -> None:
    """The fault's span belongs to the request's trace: the front's SERVER span is in it."""
    live.receiver.wait_for(
        lambda spans: next(
            (s for s in spans if s.trace_id == span.trace_id and s.service == "front" and route in s.name), None
        ),
        within=TURN,
        what=f"the front's span of {route} in the fault's trace",
    )


def charge(client: httpx.Client) -> None:
    body = {
        "order_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "amount": {"amount": 1999, "currency": "EUR"},
        "card": GOOD_CARD,
    }
    client.post("/api/payments/charges", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


@contextlib.contextmanager
def fault(
    live: Live, request: Callable[[httpx.Client], object], service: str, flag: str, alert: str, **params: float
) -> Iterator[None]:
    """Under traffic: ``alert`` quiet, then ``flag`` on and ``alert`` firing for the block, then the
    flag off and ``alert`` quiet again (the flag is switched off even when the block fails)."""
    with traffic(live, request):
        live.alert_is(alert, False)
        live.switch(service, flag, enabled=True, **params)
        try:
            live.alert_is(alert, True)
            yield
        finally:
            live.switch(service, flag, enabled=False)
        live.alert_is(alert, False)


def test_payment_latency(live: Live) -> None:
    with fault(live, charge, "payments", "payment-latency", "AgoraPaymentsSlow", delay_seconds=1.5):
        span = failing_span(live, "payments", "payment-latency", exception=False)
        assert span.attributes["fault.delay_seconds"] == 1.5
        in_a_request_trace(live, span, "/api/payments")


def test_payment_failures(live: Live) -> None:
    with fault(live, charge, "payments", "payment-failures", "AgoraPaymentsFailing", rate=0.5):
        span = failing_span(live, "payments", "payment-failures", exception=True)
        in_a_request_trace(live, span, "/api/payments")


def test_catalog_latency(live: Live) -> None:
    def products(client: httpx.Client) -> object:
        return client.get("/api/catalog/products", params={"limit": 5})

    with fault(live, products, "catalog", "catalog-latency", "AgoraCatalogSlow", delay_seconds=0.4):
        span = failing_span(live, "catalog", "catalog-latency", exception=False)
        in_a_request_trace(live, span, "/api/catalog")


def test_recommendation_errors(live: Live) -> None:
    path = f"/api/recommendations/products/{live.product_id}"
    with fault(
        live, lambda client: client.get(path), "recommendations", "recommendation-errors", "AgoraHighErrorRate", rate=1
    ):
        firing = query(live.prometheus, quick_expr("AgoraHighErrorRate", WINDOW))
        assert {series["metric"]["service"] for series in firing} == {"recommendations"}
        span = failing_span(live, "recommendations", "recommendation-errors", exception=True)
        in_a_request_trace(live, span, "/api/recommendations")
        assert httpx.get(f"{live.base}{path}").status_code == 503
    assert httpx.get(f"{live.base}{path}").status_code == 200


def test_broker_publish_failures(live: Live) -> None:
    """The relay's publish fails: events wait in the outbox and all go out once it is off."""
    names = iter(range(10_000))

    def rename(client: httpx.Client) -> None:
        client.patch(f"/api/catalog/products/{live.product_id}", json={"name": f"Renamed {next(names)}"})

    live.alert_is("AgoraOutboxPublishFailing", False)
    live.switch("catalog", "broker-publish-failures", enabled=True, rate=1)
    try:
        with traffic(live, rename):
            live.alert_is("AgoraOutboxPublishFailing", True)
            span = failing_span(live, "catalog", "broker-publish-failures", exception=True)
            assert span.name.startswith("send "), span.name
            in_a_request_trace(live, span, "/api/catalog")
        waiting = httpx.get(f"{live.base}/api/catalog/admin/messaging", headers=live.admin).json()["outbox"]
        assert waiting["pending"] > 0, "the events wait in the outbox"
    finally:
        live.switch("catalog", "broker-publish-failures", enabled=False)
    live.alert_is("AgoraOutboxPublishFailing", False)
    polled(
        lambda: (
            True
            if httpx.get(f"{live.base}/api/catalog/admin/messaging", headers=live.admin).json()["outbox"]["pending"]
            == 0
            else None
        ),
        within=TURN,
        what="every event that waited published",
    )
