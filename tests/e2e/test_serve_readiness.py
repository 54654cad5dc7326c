"""`agora serve catalog` on PostgreSQL: /readyz follows the database down and back up."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.databases import backend_unavailable
from agora.platform.testing.postgres import PrivatePostgres
from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = pytest.mark.backend("postgresql")


def _ready_status(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = httpx.get(url, timeout=10)
    return response.status_code, response.json()


def _wait_for_status(url: str, status: int, timeout: float = 30.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    last: tuple[int, dict] = (0, {})  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        last = _ready_status(url)
        if last[0] == status:
            return last[1]
        time.sleep(0.25)
    raise AssertionError(f"/readyz stayed {last}")


def test_readyz_follows_postgres(tmp_path: Path) -> None:
    server = PrivatePostgres()
    try:
        server.init().start()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        backend_unavailable("postgresql (private instance)", str(exc))
    try:
        server.wait_accepting()
        port = free_port()
        env = {"AGORA_CATALOG_DATABASE_URL": server.url(), "AGORA_ENVIRONMENT": "development"}
        command = agora_command("serve", "catalog", "--port", str(port), "--data-dir", str(tmp_path / "var"))
        with running_process(command, log_path=tmp_path / "serve.log", env=env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(f"{base}/readyz", timeout=60, process=process)
            assert httpx.get(f"{base}/api/catalog/categories", timeout=10).status_code == 200

            server.stop()
            down = _wait_for_status(f"{base}/readyz", 503)
            assert down["checks"]["database"] != "ok" and "database" in down["detail"]
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200  # alive, just not ready
            # what needs the database degrades to a retryable 503, never a 500 or a stack trace
            during = httpx.get(f"{base}/api/catalog/categories", timeout=10)
            assert during.status_code == 503, during.text
            assert during.headers["retry-after"] == "1"
            assert during.headers["content-type"] == "application/problem+json"

            server.start()
            up = _wait_for_status(f"{base}/readyz", 200)
            assert up["checks"]["database"] == "ok"
            assert httpx.get(f"{base}/api/catalog/categories", timeout=10).status_code == 200
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        server.remove()
