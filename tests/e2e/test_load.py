"""Under load, against a real ``agora up`` (embedded: every service in one process).

* No request waits on another's CPU work: a product read's p99 while 20 shoppers log in over and
  over stays within 2x of its p99 alone. Before password hashing moved off the event loop, each
  login stalled the whole process for one argon2 hash (~19 ms), and the read's p99 was many times
  its quiet value. Both phases run in the same process, alternated, so a machine that gets busier
  or quieter during the test moves both alike.
* ``agora loadtest`` runs Locust as its own process against that URL and writes its report.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agora.cli import main
from agora.platform.testing.processes import agora_command, free_port, running_process, stop, wait_until_ready
from agora.services.identity.passwords import Passwords
from agora.services.identity.settings import IdentitySettings

pytestmark = [pytest.mark.slow, pytest.mark.backend("sqlite")]

LOGINS = 20
READS_PER_ROUND = 100
ROUNDS = 5
PASSWORD = "a long enough load passphrase"


@pytest.fixture(scope="module")
def agora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("load")
    port = free_port()
    command = agora_command("up", "--port", str(port), "--data-dir", str(directory / "var"))
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING"}
    with running_process(command, log_path=directory / "agora.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=150, process=process)
        yield base


def one_verification_seconds() -> float:
    """What one login's argon2 verification costs on this machine, with identity's defaults."""
    defaults = IdentitySettings.model_fields
    passwords = Passwords(
        memory_kib=defaults["argon2_memory_kib"].default,
        time_cost=defaults["argon2_time_cost"].default,
        parallelism=defaults["argon2_parallelism"].default,
    )
    stored = passwords.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(5):
        assert passwords.verify(stored, PASSWORD)
    return (time.perf_counter() - started) / 5


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


async def timed_reads(client: httpx.AsyncClient, product_ids: list[str], count: int) -> list[float]:
    """``count`` product reads one after the other; each one's latency in seconds."""
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        response = await client.get(f"/api/catalog/products/{product_ids[index % len(product_ids)]}")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return latencies


class LoginStorm:
    """tests/support/login_storm.py in its own process, started and stopped around each round of reads."""

    def __init__(self, base: str, emails: list[str]) -> None:
        script = Path(__file__).parents[1] / "support" / "login_storm.py"
        # at the lowest priority: on a 2-core machine the storm's own twenty HTTP clients would
        # otherwise take CPU from the server under test, which shoppers elsewhere never do
        self.process = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, str(script), base, PASSWORD, *emails],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.logins = 0

    def _say(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, f"the login storm ended (exit {self.process.wait(timeout=10)})"
        return answer

    async def start(self) -> None:
        assert await asyncio.to_thread(self._say, "start") == "on"

    async def stop(self) -> None:
        answer = await asyncio.to_thread(self._say, "stop")
        self.logins += int(answer.removeprefix("off "))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        stop(self.process)


async def test_a_product_read_does_not_wait_for_logins(agora: str) -> None:
    async with httpx.AsyncClient(base_url=agora, timeout=30) as reader:
        page = await reader.get("/api/catalog/products", params={"limit": 50})
        product_ids = [item["id"] for item in page.json()["items"]]
        emails = [f"load-{uuid.uuid4().hex[:12]}@example.org" for _ in range(LOGINS)]
        for email in emails:
            registered = await reader.post("/api/identity/register", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
        await timed_reads(reader, product_ids, 50)  # warm: caches, connections

        alone: list[float] = []
        during: list[float] = []
        storm = LoginStorm(agora, emails)
        try:
            for _ in range(ROUNDS):
                alone += await timed_reads(reader, product_ids, READS_PER_ROUND)
                await storm.start()
                try:
                    during += await timed_reads(reader, product_ids, READS_PER_ROUND)
                finally:
                    await storm.stop()
        finally:
            storm.close()
    quiet, busy = p99(alone), p99(during)
    hash_seconds = one_verification_seconds()
    print(
        f"product read p99 alone {quiet * 1000:.1f} ms, during {storm.logins} logins {busy * 1000:.1f} ms;"
        f" one verification {hash_seconds * 1000:.1f} ms"
    )
    assert storm.logins >= LOGINS * ROUNDS  # every shopper logged in during every round
    # Within 2x, or, where the quiet p99 is a few milliseconds (a quiet 2-core machine, where the
    # login requests' own handling on the loop shows at the tail), less than ONE verification
    # more: a read that waited for a hash on the loop would wait for at least one, and twenty
    # logins on the loop cost it hundreds of milliseconds (1,039 ms against 41 before the pool).
    assert busy <= 2 * quiet or busy - quiet < hash_seconds, (
        f"p99 {busy * 1000:.1f} ms during logins against {quiet * 1000:.1f} ms alone"
        f" (one verification: {hash_seconds * 1000:.1f} ms)"
    )


JOURNEYS = {"browse", "search", "product", "cart", "account", "checkout", "orders", "support", "storefront"}


def loadtest(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agora_command("loadtest", *args), capture_output=True, text=True, timeout=timeout)


def test_agora_loadtest_walks_every_journey_and_writes_its_report(agora: str, tmp_path: Path) -> None:
    done = loadtest(
        "--url", agora, "--users", "10", "--spawn-rate", "5", "--duration", "15s", "--report-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = tmp_path.iterdir()
    for name in ("summary.json", "summary.md", "timeline.png", "report.html", "locust.html", "locust_stats.csv"):
        assert (report / name).stat().st_size > 0, name
    summary = json.loads((report / "summary.json").read_text())
    assert summary["unexpected_errors"] == 0, summary["errors"]
    walked = {journey["name"]: journey["requests"] for journey in summary["journeys"]}
    assert set(walked) == JOURNEYS and all(walked.values()), walked
    assert summary["requests"] == sum(walked.values()) and summary["requests_per_second"] > 0
    assert all(endpoint["p99_ms"] is not None for endpoint in summary["endpoints"])
    assert (report / "timeline.png").read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in (report / "report.html").read_text()
    assert "| checkout |" in (report / "summary.md").read_text()


def run_cli(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``agora loadtest ARGS`` in this process (no Locust is started: the arguments are refused
    first); its exit code and what it printed, on one line."""
    with pytest.raises(SystemExit) as exited:
        main(["loadtest", *args])
    printed = capsys.readouterr()
    return int(exited.value.code or 0), " ".join((printed.out + printed.err).split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--users", "0"), "--users: must be at least 1"),
        (("--spawn-rate", "0"), "--spawn-rate: must be more than 0"),
        (("--duration", "5x"), "--duration: '5x' is not a duration"),
        (("--url", "ftp://example.org"), "--url: 'ftp://example.org' is not an http(s) URL"),
        (("--url", "http://127.0.0.1:8000/products"), "--url: give the shop's root URL"),
        (("--users", "many"), "Invalid value for '--users'"),
        (("--service-url", "http://catalog:8000"), "--service-url: 'http://catalog:8000' is not a template"),
    ],
)
def test_bad_arguments_are_named(
    args: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = run_cli((*args, "--report-dir", str(tmp_path)), capsys)
    assert code != 0
    assert message in printed and "Traceback" not in printed
    assert not any(tmp_path.iterdir())  # no report begun


def test_a_url_where_nothing_answers_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed = run_cli(("--url", f"http://127.0.0.1:{free_port()}", "--report-dir", str(tmp_path)), capsys)
    assert code == 1
    assert "--url: nothing answers at" in printed
    assert not any(tmp_path.iterdir())
