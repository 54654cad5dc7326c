"""The Kubernetes dev overlay (deploy/k8s/overlays/dev) played by podman on the image built for the
container tests: rendered by ``kubectl kustomize``, translated for podman 4.3 where it must be
(tests/containers/kube.py says what and why), played in sync-wave order — the stores, then the
migration Jobs (each must complete), then every service's Deployment — until every readinessProbe
passes; then a shopper registers, fills a cart and pays with the card that succeeds, all through
the web pod's pages, and the order is paid. Every pod's limits are podman's limits, so a limit
too low is an OOM kill here. The services' memory and CPU are measured on the way
(var/kube-play-figures.json, the source of deploy/k8s/measured.json: docs/deploy.md).

The stores are the stand-ins built from Debian packages (deploy/local-images), substituted through
kustomize ``images:``, as a user substitutes their registry; analytics and recommendations run
from the ``agora-ml`` image the container tests build beside the other.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.deploy import k8s
from agora.deploy.graph import NODES
from tests.containers import engine, kube
from tests.containers.engine import IMAGE, ML_IMAGE, ROOT, podman

PASSWORD = "a long enough kube play passphrase"
FIGURES = ROOT / "var" / "kube-play-figures.json"
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/35", "cvc": "123"}
ADDRESS = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH"}


def _images() -> dict[str, str]:
    stand_ins = engine.stand_in_environment()  # AGORA_POSTGRES_IMAGE=localhost/agora-stand-in/postgres:bookworm...
    official = {store[0]: store[1].rpartition(":")[0] for store in k8s.DEV_STORES}
    return {
        k8s.IMAGE: IMAGE,
        k8s.ML_IMAGE: ML_IMAGE,  # analytics and recommendations (AGORA_TEST_ML_IMAGE)
        **{official[name]: stand_ins[f"AGORA_{name.upper()}_IMAGE"] for name in official},
    }


@pytest.fixture(scope="module")
def played(images: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[kube.Play, kube.Plan]]:
    folder = tmp_path_factory.mktemp("kube-play")
    prefix = f"kp{uuid.uuid4().hex[:6]}-"
    plan = kube.for_podman(kube.render(folder / "overlay", prefix=prefix, images=_images()), prefix=prefix)
    play = kube.Play(prefix=prefix, folder=folder, log=folder / "play.log")
    try:
        started = time.monotonic()
        play.create_network()
        play.play("stores", plan.stores, plan.config_maps)
        play.wait_ready(kube.workloads_of(plan.stores), within=120)
        play.play("migrations", plan.migrations, plan.config_maps)
        play.wait_completed(plan.migrations, within=300, retries=4)  # the Jobs' backoffLimit
        play.play("services", plan.services, plan.config_maps)
        play.wait_ready(plan.services, within=300)
        kinds = Counter(name.partition("/")[0] for name in plan.left_out)
        print(f"\nkube play: every pod ready after {time.monotonic() - started:.0f}s; not played: {dict(kinds)}")
        yield play, plan
    finally:
        left = play.down()
    assert left == [], f"left behind: {left}"


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, f"no CSRF field on {page.url}: {page.status_code}"
    return found.group(1)


class Browser:
    """A browser on plain HTTP: the shop (production settings) sets its session cookies Secure,
    which an HTTP client keeps but sends only over HTTPS; the ingress's TLS is not here, so this
    browser sends back what it was given."""

    def __init__(self, base_url: str) -> None:
        self.jar: dict[str, str] = {}
        self.client = httpx.Client(base_url=base_url, timeout=30, headers={"accept": "text/html"})

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        cookies = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        answer = self.client.request(method, path, headers={"cookie": cookies} if cookies else {}, **kwargs)
        self.jar |= {cookie.name: cookie.value or "" for cookie in answer.cookies.jar}
        return answer

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self._send("POST", path, data=data)

    def submit(self, path: str, data: dict[str, str], *, again_on: tuple[int, ...] = (503,)) -> httpx.Response:
        """Posts a form, and again while the page says to try again in a moment: the web waits
        3 s for a backend (AGORA_WEB_BACKEND_TIMEOUT), which a loaded machine can exceed."""
        answer = self.post(path, data)
        deadline = time.monotonic() + 90
        while answer.status_code in again_on and time.monotonic() < deadline:
            time.sleep(2)  # a person's pause before trying again
            answer = self.post(path, data)
        return answer


def _stocked_product(play: kube.Play, plan: kube.Plan) -> str:
    """A seeded product inventory holds stock for (from catalog's events), asked of the pods."""
    catalog = f"http://{play.address(plan.hosts['catalog'])}:8000"
    inventory = f"http://{play.address(plan.hosts['inventory'])}:8000"
    products = httpx.get(f"{catalog}/api/catalog/products", params={"limit": 5}, timeout=30).json()["items"]
    assert products, "the catalog's migration Job seeded no product"
    deadline = time.monotonic() + 90
    while True:
        for product in products:
            level = httpx.get(f"{inventory}/api/inventory/stock/{product['sku']}", timeout=30)
            if level.status_code == 200 and level.json()["available"] > 0:
                return str(product["id"])
        assert time.monotonic() < deadline, "no stock from catalog's events within 90s"
        time.sleep(1)  # the consumers' progress: there is no event to await from here


def _explain(play: kube.Play, plan: kube.Plan, answer: httpx.Response, *services: str) -> str:
    said = re.findall(r'class="[^"]*(?:error|alert)[^"]*"[^>]*>([^<]+)<', answer.text)
    logs = "\n".join(f"--- {name}:\n{play.logs(plan.hosts[name] + '-agora')}" for name in services)
    return f"{answer.status_code} {said}\n{logs}"


def _usage(container: str) -> dict[str, float]:
    """The container's cgroup (v1, as on these machines): resident memory (anonymous and mapped
    files), the working set as the kubelet counts it (usage less the inactive page cache), the most
    it ever held (page cache included), in MiB; and the CPU seconds it used."""
    path = podman("inspect", "--format", "{{.State.CgroupPath}}", container).stdout.strip().lstrip("/")
    memory, cpu = Path("/sys/fs/cgroup/memory") / path, Path("/sys/fs/cgroup/cpuacct") / path
    stat = dict(line.split() for line in (memory / "memory.stat").read_text().splitlines())
    usage = int((memory / "memory.usage_in_bytes").read_text())
    return {
        "rss_mib": (int(stat["total_rss"]) + int(stat["total_mapped_file"])) / 2**20,
        "working_set_mib": (usage - int(stat["total_inactive_file"])) / 2**20,
        "peak_mib": int((memory / "memory.max_usage_in_bytes").read_text()) / 2**20,
        "cpu_seconds": int((cpu / "cpuacct.usage").read_text()) / 1e9,
    }


@pytest.mark.slow
@pytest.mark.timeout(900)  # the image build, when this test is the first to need it, included
def test_the_dev_overlay_plays_under_podman_and_sells(played: tuple[kube.Play, kube.Plan]) -> None:
    play, plan = played
    containers = {node.name: f"{plan.hosts[node.name]}-agora" for node in NODES}
    before = {name: _usage(container) for name, container in containers.items()}
    started = time.monotonic()

    product = _stocked_product(play, plan)
    shopper = Browser(f"http://{play.address(plan.hosts['web'])}:8000")
    assert shopper.get("/").status_code == 200
    email = f"shopper-{uuid.uuid4().hex[:10]}@example.org"
    account = {"name": "Ada", "email": email, "password": PASSWORD, "next": "/"}
    registered = shopper.submit("/register", {**account, "csrf_token": _csrf(shopper.get("/register"))})
    if registered.status_code == 409:  # an attempt the web stopped waiting for went through
        registered = shopper.submit("/login", {**account, "csrf_token": _csrf(shopper.get("/login"))})
    assert registered.status_code == 303, _explain(play, plan, registered, "identity")
    page = shopper.get(f"/p/{product}")
    added = shopper.submit(
        "/cart/add", {"csrf_token": _csrf(page), "product_id": product, "quantity": "1", "next": "/cart"}
    )
    assert added.status_code == 303, added.text[-2000:]
    assert f"/p/{product}" in shopper.get("/cart").text
    form = shopper.get("/checkout")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    assert key, form.text[-2000:]
    filled = {"csrf_token": _csrf(form), "idempotency_key": key.group(1), "address_id": "new", "currency": "EUR"}
    filled |= {"country": "GB", **ADDRESS, **CARD}
    # the same order again under the same key: orders answers 409 while the first attempt runs,
    # then that attempt's outcome
    placed = shopper.submit("/checkout", filled, again_on=(409, 503))
    assert placed.status_code == 303, _explain(play, plan, placed, "orders", "payments")
    order = shopper.get(placed.headers["location"])
    status = re.search(r"data-order-status>([a-z_]+)<", order.text)
    assert status and status.group(1) == "paid", order.text[-2000:]

    # the figures of this run: what each service's container holds after the journey, the most
    # it held since it started, and its average CPU over the journey
    seconds = time.monotonic() - started
    services = {}
    for name, container in containers.items():
        used = _usage(container)
        assert play.state(container)["OOMKilled"] is False, name
        services[name] = {key: round(used[key], 1) for key in ("rss_mib", "working_set_mib", "peak_mib")}
        services[name]["cpu_millicores"] = round(
            (used["cpu_seconds"] - before[name]["cpu_seconds"]) / seconds * 1000, 1
        )
    figures = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "tests/containers/test_kube_play.py: the dev overlay under podman 4.3, one shopper's journey",
        "journey_seconds": round(seconds, 1),
        "services": services,
    }
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nkube play figures: {json.dumps(figures)}")
    for name, measured in services.items():
        limit = k8s.resources(name)["limits"]["memory"]
        assert measured["peak_mib"] <= int(limit.removesuffix("Mi")), (name, measured, limit)
