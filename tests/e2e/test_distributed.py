"""`agora up --distributed`: each service its own process on real backends, behind the front proxy."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from agora.platform.testing.brokers import NATS_URL
from agora.platform.testing.databases import POSTGRES_URL, create_database, drop_database
from agora.platform.testing.processes import (
    agora_command,
    free_port,
    free_port_block,
    running_process,
    serving_pids,
    wait_until_ready,
)
from agora.registry import service_specs

# sixteen processes start on two cores: more than the suite's per-test limit
pytestmark = [pytest.mark.backend("postgresql"), pytest.mark.backend("nats"), pytest.mark.timeout(600)]


def run_agora(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI in a bare environment (and the code under test: PYTHONPATH is kept)."""
    bare = {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run(agora_command(*args), env={**bare, **env}, capture_output=True, text=True, timeout=60)


SUPERVISOR_EVENTS = {"service_exited", "service_restarted", "service_stopped", "service_given_up"}


def json_lines(log: str) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]


def environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_distributed_on_postgresql_and_nats(tmp_path: Path) -> None:
    database = asyncio.run(create_database(POSTGRES_URL, "postgresql"))
    try:
        # the front first, then a block for the services that cannot overlap it
        port = free_port()
        service_port = free_port_block(len(service_specs()))
        env = {
            "AGORA_CATALOG_DATABASE_URL": database,
            "AGORA_BROKER_URL": NATS_URL,
            "AGORA_ENVIRONMENT": "development",
        }
        command = agora_command(
            "up",
            "--distributed",
            "--port",
            str(port),
            "--first-service-port",
            str(service_port),
            "--data-dir",
            str(tmp_path / "var"),
        )
        with running_process(command, log_path=tmp_path / "up.log", env=env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(f"{base}/readyz", timeout=240, process=process)
            ready = httpx.get(f"{base}/readyz", timeout=10).json()
            assert ready["checks"] == {spec.name: "ok" for spec in service_specs()}
            # the service answers on its own port too, and reports its real backends
            direct = httpx.get(f"http://127.0.0.1:{service_port}/readyz", timeout=10).json()
            assert direct["checks"] == {"database": "ok", "broker": "ok", "events": "ok"}
            # every service process runs at optimization level 2 (docs/architecture.md), unless
            # the environment agora up was started in names a level itself
            children = serving_pids(range(service_port, service_port + len(service_specs())))
            assert len(children) == len(service_specs())
            level = os.environ.get("PYTHONOPTIMIZE", "2")
            assert {environment(pid).get("PYTHONOPTIMIZE") for pid in children} == {level}

            page = httpx.get(f"{base}/api/catalog/products", params={"limit": 5}, timeout=10)
            assert page.status_code == 200 and len(page.json()["items"]) == 5
            product = page.json()["items"][0]
            first = httpx.get(f"{base}/api/catalog/products/{product['id']}", timeout=10)
            again = httpx.get(
                f"{base}/api/catalog/products/{product['id']}",
                headers={"If-None-Match": first.headers["etag"]},
                timeout=10,
            )
            assert again.status_code == 304
            assert httpx.post(f"{base}/api/catalog/products", json={}, timeout=10).status_code == 401
            assert httpx.get(f"{base}/api/nothing", timeout=10).status_code == 404
            # the front is the edge: a forged X-Forwarded-For does not spread failed logins over
            # invented addresses, so the per-address throttle (20 failures) still catches them
            statuses = [
                httpx.post(
                    f"{base}/api/identity/login",
                    json={"email": f"nobody{n}@example.org", "password": "wrong password"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                    timeout=10,
                ).status_code
                for n in range(21)
            ]
            assert statuses[:20] == [401] * 20 and statuses[20] == 429, statuses
            # one scrape of the front shows every process, each series labelled with its process
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            assert 'process="catalog"' in metrics and 'process="front"' in metrics
            assert 'route="/api/catalog/products/{product_id}"' in metrics
            assert metrics.count("# TYPE agora_http_requests_total counter") == 1

            # a service process that dies is started again (with backoff), and the log says so
            payments_port = service_port + [spec.name for spec in service_specs()].index("payments")
            (victim,) = serving_pids([payments_port])
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 120
            while serving_pids([payments_port]) in ([], [victim]):
                assert time.monotonic() < deadline, "payments was not restarted"
                time.sleep(0.25)  # another process's effect: there is no event to await here
            wait_until_ready(f"{base}/readyz", timeout=120, process=process)  # through the front
            assert httpx.get(f"{base}/readyz", timeout=10).json()["checks"]["payments"] == "ok"
        # stopping agora up (SIGTERM) stops every service process it started, restarting none
        assert serving_pids(range(service_port, service_port + len(service_specs()))) == []
        log = (tmp_path / "up.log").read_text()
        assert '"database":"postgresql"' in log and '"broker":"nats"' in log
        supervision = [line for line in json_lines(log) if line["event"] in SUPERVISOR_EVENTS]
        assert len(supervision) == 2, supervision
        exited, restarted = supervision
        assert (exited["event"], exited["service"], exited["exit_code"], exited["attempt"]) == (
            "service_exited", "payments", -signal.SIGKILL, 1
        )  # fmt: skip
        assert (restarted["event"], restarted["service"], restarted["attempt"]) == ("service_restarted", "payments", 1)
    finally:
        asyncio.run(drop_database(POSTGRES_URL, "postgresql", database))


def test_doctor_names_what_is_wrong(tmp_path: Path) -> None:
    env_base = {"AGORA_ENVIRONMENT": "development", "AGORA_DATA_DIR": str(tmp_path / "var")}
    healthy = run_agora("doctor", env={**env_base, "AGORA_BROKER_URL": NATS_URL})
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    broken = run_agora(
        "doctor",
        env={
            **env_base,
            "AGORA_CATALOG_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/catalog",
            "AGORA_BROKER_URL": "redis://127.0.0.1:1/0",
        },
    )
    assert broken.returncode == 1
    output = broken.stdout + broken.stderr
    assert "catalog database" in output and "broker" in output and "2 check(s) failed" in output
    assert "Traceback" not in output


def test_a_taken_service_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    import socket

    first = free_port_block(len(service_specs()))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first + 2))
        squatter.listen()
        result = subprocess.run(
            agora_command(
                "up", "--distributed", "--port", str(free_port()), "--first-service-port", str(first),
                "--data-dir", str(tmp_path / "var"),
            ),
            env={"PATH": "/usr/bin:/bin", "AGORA_ENVIRONMENT": "development"},
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"{first + 2} already in use" in result.stdout + result.stderr
    assert not (tmp_path / "var").exists()  # refused before migrating anything


@pytest.mark.parametrize("command", [["up", "--distributed"], ["serve", "catalog"]], ids=["up", "serve"])
def test_distributed_mode_refuses_the_in_process_broker(tmp_path: Path, command: list[str]) -> None:
    result = run_agora(
        *command,
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path / "var"),
        env={"AGORA_ENVIRONMENT": "development", "AGORA_MODE": "distributed"},
    )
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "needs a real broker: set AGORA_BROKER_URL" in lines[0], lines
    assert not (tmp_path / "var").exists()  # refused before migrating anything
