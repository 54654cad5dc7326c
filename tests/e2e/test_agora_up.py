"""`agora up` as a new user runs it: a real process on a real port, seeded, observable, stoppable."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, stop, wait_until_ready


@pytest.fixture(scope="module")
def agora_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, object]]:
    directory = tmp_path_factory.mktemp("agora-up")
    port = free_port()
    log_path = directory / "agora.log"
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "INFO"}
    command = agora_command("up", "--port", str(port), "--data-dir", str(directory / "var"))
    with running_process(command, log_path=log_path, env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=process)
        yield base, log_path, process


def test_lists_and_pages_through_every_seeded_product(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = agora_up
    seen: list[str] = []
    cursor = None
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(100):
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/catalog/products", params=params).json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        categories = client.get("/api/catalog/categories").json()
    assert len(seen) >= 200 and len(seen) == len(set(seen))
    assert len(categories["items"] if isinstance(categories, dict) else categories) >= 8


def test_filters_and_search(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = agora_up
    with httpx.Client(base_url=base, timeout=10) as client:
        first = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
        category = first["category"]["slug"]
        in_category = client.get("/api/catalog/products", params={"category": category, "limit": 100}).json()
        assert in_category["items"] and all(p["category"]["slug"] == category for p in in_category["items"])
        word = first["name"].split()[-1]
        found = client.get("/api/catalog/products", params={"q": word, "limit": 100}).json()["items"]
        assert first["id"] in [p["id"] for p in found]
        cheap = client.get("/api/catalog/products", params={"max_price": 2000, "limit": 100}).json()["items"]
        assert all(p["price"]["amount"] <= 2000 for p in cheap)


def test_admin_route_refuses_without_token(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = agora_up
    response = httpx.post(f"{base}/api/catalog/products", json={"sku": "X-1"}, timeout=10)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_identity_tokens_guard_the_catalog(agora_up) -> None:  # type: ignore[no-untyped-def]
    """A new user's path: register, log in, get refused on admin routes; the operator creates an
    admin with the CLI, whose token then creates a product the storefront lists."""
    base, log_path, _ = agora_up
    data_dir = log_path.parent / "var"
    with httpx.Client(base_url=base, timeout=10) as client:
        registered = client.post(
            "/api/identity/register", json={"email": "Ada@Example.org", "password": "correct horse battery"}
        )
        assert registered.status_code == 201, registered.text
        login = client.post(
            "/api/identity/login", json={"email": "ada@example.org", "password": "correct horse battery"}
        )
        customer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.get("/api/identity/me", headers=customer).json()["email"] == "ada@example.org"
        refreshed = client.post("/api/identity/refresh", json={"refresh_token": login.json()["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        new_refresh = refreshed.json()["refresh_token"]
        assert client.post("/api/identity/logout", json={"refresh_token": new_refresh}).status_code == 204
        assert client.post("/api/identity/refresh", json={"refresh_token": new_refresh}).status_code == 401
        product = {
            "sku": "E2E-0001",
            "name": "Operator lamp",
            "price": {"amount": 1999, "currency": "USD"},
            "category": "home",
        }
        # that logout ended the session of the first access token too: a new login's token is refused
        # by role, not for being revoked
        login = client.post(
            "/api/identity/login", json={"email": "ada@example.org", "password": "correct horse battery"}
        )
        customer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.post("/api/catalog/products", json=product, headers=customer).status_code == 403

        created = subprocess.run(
            agora_command("create-admin", "--email", "ops@example.org", "--data-dir", str(data_dir)),
            env={**os.environ, "AGORA_ADMIN_PASSWORD": "operator passphrase 1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        weak = subprocess.run(
            agora_command("create-admin", "--email", "weak@example.org", "--data-dir", str(data_dir)),
            env={**os.environ, "AGORA_ADMIN_PASSWORD": "password"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert weak.returncode == 1 and "password" in weak.stderr and "Traceback" not in weak.stderr

        admin_login = client.post(
            "/api/identity/login", json={"email": "ops@example.org", "password": "operator passphrase 1"}
        )
        admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
        response = client.post("/api/catalog/products", json=product, headers=admin)
        assert response.status_code == 201, response.text
        found = client.get("/api/catalog/products/by-sku/E2E-0001")
        assert found.status_code == 200 and found.json()["name"] == "Operator lamp"


def test_metrics_and_json_logs_with_trace_ids(agora_up) -> None:  # type: ignore[no-untyped-def]
    base, log_path, _ = agora_up
    httpx.get(f"{base}/api/catalog/products", params={"limit": 1}, timeout=10)
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert "agora_http_requests_total{" in metrics and 'route="/api/catalog/products"' in metrics
    assert "agora_http_request_duration_seconds_bucket{" in metrics
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r.get("logger") == "agora.access"]
    assert access and all(len(r.get("trace_id", "")) == 32 and r.get("request_id") for r in access)
    non_json = [line for line in log_path.read_text().splitlines() if line.strip() and not line.startswith("{")]
    # Rich progress output of migrations/seeding goes to stderr too; everything after start-up is JSON
    assert all("Traceback" not in line for line in non_json)


def test_stops_gracefully(agora_up) -> None:  # type: ignore[no-untyped-def]
    _, log_path, process = agora_up
    # a graceful stop is a clean exit (0), not "killed by SIGTERM": containers report it as such
    assert stop(process, timeout=30) == 0
    log = log_path.read_text()
    assert "service_stopping" in log and "Application shutdown complete" in log
