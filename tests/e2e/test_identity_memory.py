"""Logins do not leave argon2's memory resident in the identity process (issue 12).

Each argon2id hash allocates its 19 MiB memory cost with ``malloc`` on a hash thread. glibc serves
the first such block with ``mmap`` but, freeing it, raises its mmap threshold to that size, so every
later hash's 19 MiB came from the hash thread's arena and stayed resident there: identity grew from
~100 to ~125 MiB after two logins in the distributed set. Here a real ``agora serve identity``
(``-OO``, as the distributed set runs it) registers one user and answers logins, in sequence and
then several at once on two hash threads, and its resident size afterwards is held to a budget far
below one retained hash. Without Redis: with it, the login throttle imports redis-py (~6 MiB) on
the first login, which is not what this test is about.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = [pytest.mark.backend("nats"), pytest.mark.slow, pytest.mark.timeout(300)]

MIB = 1024 * 1024
SEQUENTIAL_LOGINS = 8
#: below the account's throttle (5): each login in flight holds one of its slots
CONCURRENT_LOGINS = 4
HASH_THREADS = 2
#: Above the resident size after start-up, once the logins are answered: the Python objects of
#: the first requests (statement caches, the ORM's, the tokens' signing). Measured: +3.9 MiB with
#: the allocator thresholds fixed, +41.8 MiB without them (19 MiB per hash thread and more).
GROWTH_BUDGET = 12 * MIB
#: start-up work that runs just after the first ready answer (first relay poll, revocation sync)
SETTLE_SECONDS = 3.0
PASSWORD = "correct horse battery staple"


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_logins_leave_no_hash_memory_resident(tmp_path: Path, nats_url: str) -> None:
    port = free_port()
    env = {
        "AGORA_ENVIRONMENT": "development",
        "AGORA_MODE": "distributed",
        "AGORA_BROKER_URL": nats_url,
        "PYTHONOPTIMIZE": "2",
        # two hash threads whatever the machine's CPUs: two arenas that could each keep a hash
        "AGORA_IDENTITY_PASSWORD_HASH_THREADS": str(HASH_THREADS),
    }
    command = agora_command("serve", "identity", "--port", str(port), "--data-dir", str(tmp_path / "var"))
    with running_process(command, log_path=tmp_path / "serve.log", env=env) as process:
        base = f"http://127.0.0.1:{port}/api/identity"
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout=180, process=process)
        time.sleep(SETTLE_SECONDS)
        started = rss(process.pid)

        credentials = {"email": "memory@example.org", "password": PASSWORD}
        registered = httpx.post(f"{base}/register", json=credentials, timeout=60)
        assert registered.status_code == 201, registered.text

        def login(_: int) -> int:
            return httpx.post(f"{base}/login", json=credentials, timeout=60).status_code

        statuses = [login(n) for n in range(SEQUENTIAL_LOGINS)]
        with ThreadPoolExecutor(CONCURRENT_LOGINS) as clients:
            statuses += list(clients.map(login, range(CONCURRENT_LOGINS)))
        after = rss(process.pid)

    assert statuses == [200] * (SEQUENTIAL_LOGINS + CONCURRENT_LOGINS), str(statuses)
    growth = after - started
    assert growth <= GROWTH_BUDGET, f"{started / MIB:.1f} -> {after / MIB:.1f} MiB after the logins"
