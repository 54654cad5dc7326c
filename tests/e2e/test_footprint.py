"""One ``agora serve`` process stays within its memory budget after start-up (issue 12).

Each process of the distributed set used to take ~234 MiB resident: every service package and
the numerical and imaging libraries came along with whichever service ran. The budget is
100 MiB (a bare FastAPI process on the same server stack is ~51 MiB); ``benchmarks/footprint.py``
measures every service, the whole distributed set and embedded mode.

With ``AGORA_REDIS_URL`` set (as the distributed set, compose and the cluster run every service)
the services that use Redis hold the line too: revocations reach sibling replicas through the
small pub/sub client of ``agora.platform.redis_channel``; cart, notifications and support import
redis-py when they first talk to Redis, not at start-up; media draws the demo pictures in a child
process and imports Pillow with the first upload.

The process runs as the distributed set, compose and the cluster run it: at optimization level 2
(``PYTHONOPTIMIZE=2``, no docstrings, no asserts; docs/architecture.md).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(300)]

BUDGET_MIB = 100.0
#: start-up work that runs just after the first ready answer (first relay poll, revocation sync)
SETTLE_SECONDS = 3.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.parametrize(
    ("service", "with_redis"),
    [
        ("catalog", False),
        ("identity", True),
        ("support", True),
        ("cart", True),
        ("notifications", True),
        ("media", True),
    ],
)
def test_one_service_process_after_start_up_is_within_budget(
    service: str, with_redis: bool, tmp_path: Path, nats_url: str, request: pytest.FixtureRequest
) -> None:
    env = {
        "AGORA_ENVIRONMENT": "development",
        "AGORA_MODE": "distributed",
        "AGORA_BROKER_URL": nats_url,
        "AGORA_DATA_DIR": str(tmp_path / "var"),
    }
    if with_redis:  # as the distributed set, compose and the cluster run it
        env["AGORA_REDIS_URL"] = request.getfixturevalue("redis_url")
    migrated = subprocess.run(
        agora_command("migrate", service), env={**os.environ, **env}, capture_output=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    port = free_port()
    command = agora_command("serve", service, "--port", str(port), "--no-migrate")
    deployed = {**env, "PYTHONOPTIMIZE": "2"}
    with running_process(command, log_path=tmp_path / "serve.log", env=deployed) as process:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout=180, process=process)
        time.sleep(SETTLE_SECONDS)
        resident = rss_mib(process.pid)
    redis = " with Redis" if with_redis else ""
    assert resident <= BUDGET_MIB, f"agora serve {service}{redis}: {resident:.1f} MiB resident after start-up"
