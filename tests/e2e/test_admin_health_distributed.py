"""Issue 7: the admin console shows a stopped service red in distributed mode.

``agora up --distributed`` on SQLite files (every service its own process, the web's among them);
one service process is killed; the dashboard's health partial, fetched with an admin's cookie
session through the front, shows that service red with the reason and every other one green, and
the charts partial still answers (the dead process is a gap in its lines, not an error).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.brokers import NATS_URL
from agora.platform.testing.processes import (
    agora_command,
    free_port,
    free_port_block,
    running_process,
    serving_pids,
    wait_until_ready,
)
from agora.platform.testing.waiting import eventually
from agora.registry import service_specs

# sixteen processes start on two cores: more than the suite's per-test limit
pytestmark = [pytest.mark.backend("sqlite"), pytest.mark.backend("nats"), pytest.mark.timeout(600)]

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
STOPPED = "recommendations"


def states(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-service="([a-z]+)" data-state="(ok|bad)"', page))


@dataclass(frozen=True)
class Distributed:
    base_url: str
    first_service_port: int


@pytest.fixture
def distributed(tmp_path: Path) -> Iterator[Distributed]:
    """``agora up --distributed`` with an admin account, on SQLite files under ``tmp_path``."""
    data_dir = tmp_path / "var"
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING", "AGORA_BROKER_URL": NATS_URL}
    subprocess.run(
        agora_command("create-admin", "--email", ADMIN_EMAIL, "--data-dir", str(data_dir)),
        env={**os.environ, **env, "AGORA_ADMIN_PASSWORD": ADMIN_PASSWORD},
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    first = free_port_block(len(service_specs()))
    command = agora_command(
        "up", "--distributed", "--port", str(port), "--first-service-port", str(first), "--data-dir", str(data_dir)
    )
    with running_process(command, log_path=tmp_path / "up.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=240, process=process)
        yield Distributed(base, first)


async def test_a_stopped_service_turns_red_on_the_dashboard(distributed: Distributed) -> None:
    names = [spec.name for spec in service_specs()]
    base, first = distributed.base_url, distributed.first_service_port
    async with httpx.AsyncClient(base_url=base, timeout=10, headers={"accept": "text/html"}) as admin:
        login = await admin.post(
            "/api/identity/login?session=cookie", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        # through the front proxy, all three session cookies arrive (each its own Set-Cookie)
        assert {"agora_access", "agora_refresh", "agora_csrf"} <= {c.name for c in admin.cookies.jar}
        healthy = await admin.get("/admin/partials/health")
        assert healthy.status_code == 200
        assert states(healthy.text) == dict.fromkeys(names, "ok")

        pids = serving_pids([first + names.index(STOPPED)])
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGTERM)  # stopped on purpose: the supervisor leaves it stopped

        async def red() -> dict[str, str] | None:
            found = states((await admin.get("/admin/partials/health")).text)
            return found if found.get(STOPPED) == "bad" else None

        after = await eventually(red, within=30, interval=0.5, what=f"{STOPPED} red on the dashboard")
        assert after == {name: ("bad" if name == STOPPED else "ok") for name in names}
        dashboard = await admin.get("/admin")
        assert dashboard.status_code == 200
        assert re.search(rf'data-service="{STOPPED}" data-state="bad">.*?unreachable', dashboard.text, re.S)
        charts = await admin.get("/admin/partials/charts")
        assert charts.status_code == 200 and "<svg" in charts.text
