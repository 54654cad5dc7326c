"""Runs the journeys with Locust in a process of its own, watched from here (see the package doc)."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

JOURNEYS_FILE = Path(__file__).with_name("journeys.py")
#: the name Locust's CSV files start with, inside the report directory
CSV_PREFIX = "locust"
#: how long Locust may take to let its shoppers finish their request after the run time
STOP_TIMEOUT_SECONDS = 10

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?")


class PlanError(ValueError):
    """An argument that cannot work, with the option it came from first: ``--users: ...``."""


@dataclass(frozen=True)
class Plan:
    url: str
    users: int
    spawn_rate: float
    duration_seconds: int
    report_root: Path
    service_url: str = ""
    """``http://{service}:8000``: each service's API at its own URL (see :mod:`.journeys`); empty: at ``url``."""

    def api_url(self, service: str) -> str:
        return self.service_url.format(service=service).rstrip("/") if self.service_url else self.url


@dataclass(frozen=True)
class Tick:
    """What Locust reported last (its statistics history, written every second)."""

    elapsed: float
    users: int = 0
    requests_per_second: float = 0.0
    requests: int = 0
    failures: int = 0
    p95_ms: float | None = None


def parse_duration(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``5m``, ``1h30m``."""
    found = _DURATION.fullmatch(text.strip())
    if not text.strip() or found is None:
        raise PlanError(f"--duration: {text!r} is not a duration like 30s, 5m or 1h30m")
    hours, minutes, seconds = (int(found.group(part) or 0) for part in "hms")
    total = hours * 3600 + minutes * 60 + seconds
    if total < 1:
        raise PlanError("--duration: must be at least 1 second")
    return total


def make_plan(
    *, url: str, users: int, spawn_rate: float, duration: str, report_root: Path, service_url: str = ""
) -> Plan:
    if service_url:
        template = urlsplit(service_url.replace("{service}", "service"))
        if "{service}" not in service_url or template.scheme not in ("http", "https") or not template.hostname:
            raise PlanError(f"--service-url: {service_url!r} is not a template like http://{{service}}:8000")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlanError(f"--url: {url!r} is not an http(s) URL like http://127.0.0.1:8000")
    if parts.path not in ("", "/") or parts.query:
        raise PlanError(f"--url: give the shop's root URL ({parts.scheme}://{parts.netloc}), not a page of it")
    if users < 1:
        raise PlanError("--users: must be at least 1")
    if spawn_rate <= 0:
        raise PlanError("--spawn-rate: must be more than 0 users a second")
    return Plan(
        url=f"{parts.scheme}://{parts.netloc}",
        users=users,
        spawn_rate=spawn_rate,
        duration_seconds=parse_duration(duration),
        report_root=report_root,
        service_url=service_url,
    )


def locust_available() -> bool:
    return importlib.util.find_spec("locust") is not None


def check_target(plan: Plan, *, timeout: float = 10.0) -> None:
    """Fails with a clear line when nothing that looks like Agora answers where the plan points."""
    import httpx

    option, url = ("--service-url", plan.api_url("catalog")) if plan.service_url else ("--url", plan.url)
    try:
        answer = httpx.get(f"{url}/api/catalog/categories", timeout=timeout)
    except httpx.HTTPError as exc:
        raise PlanError(f"{option}: nothing answers at {url} ({type(exc).__name__}: {exc})") from None
    if answer.status_code != 200:
        raise PlanError(f"{option}: {url}/api/catalog/categories answered {answer.status_code}; is this an Agora shop?")


def new_report_directory(root: Path) -> Path:
    """``root/<UTC timestamp>``, created (a second one within the same second gets a suffix)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(100):
        directory = root / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            directory.mkdir(parents=True)
        except FileExistsError:
            continue
        return directory
    raise PlanError(f"--report-dir: cannot create a new directory under {root}")


def locust_command(plan: Plan, directory: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "--locustfile",
        str(JOURNEYS_FILE),
        "--headless",
        "--host",
        plan.url,
        "--users",
        str(plan.users),
        "--spawn-rate",
        f"{plan.spawn_rate:g}",
        "--run-time",
        f"{plan.duration_seconds}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_SECONDS),
        "--csv",
        str(directory / CSV_PREFIX),
        "--csv-full-history",
        "--html",
        str(directory / "locust.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]


class _History:
    """Reads the rows Locust appends to its statistics history, from where it read last."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.header: list[str] | None = None
        self.last: Tick | None = None

    def read(self, elapsed: float) -> Tick:
        try:
            with self.path.open("r", encoding="utf-8", newline="") as file:
                file.seek(self.offset)
                chunk = file.read()
        except FileNotFoundError:
            return Tick(elapsed)
        complete = chunk[: chunk.rfind("\n") + 1]  # a row still being written waits for next time
        self.offset += len(complete.encode("utf-8"))
        rows = list(csv.reader(io.StringIO(complete)))
        if self.header is None and rows:
            self.header, rows = rows[0], rows[1:]
        for row in rows:
            record = dict(zip(self.header or (), row, strict=False))
            if record.get("Name") == "Aggregated":
                self.last = Tick(
                    elapsed=elapsed,
                    users=int(record["User Count"]),
                    requests_per_second=float(record["Requests/s"]),
                    requests=int(record["Total Request Count"]),
                    failures=int(record["Total Failure Count"]),
                    p95_ms=None if record["95%"] == "N/A" else float(record["95%"]),
                )
        return Tick(elapsed) if self.last is None else Tick(**{**self.last.__dict__, "elapsed": elapsed})


def run_locust(plan: Plan, directory: Path, *, on_tick: Callable[[Tick], None], interval: float = 1.0) -> int:
    """Runs Locust until its run time is over (bounded: killed past that with a margin); returns
    its exit code (0, or 1 when some request failed). Ctrl-C stops it early, report included."""
    deadline_seconds = plan.duration_seconds + STOP_TIMEOUT_SECONDS + 60
    history = _History(directory / f"{CSV_PREFIX}_stats_history.csv")
    started = time.monotonic()
    with (directory / "locust.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            locust_command(plan, directory),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "AGORA_LOADTEST_SERVICE_URL": plan.service_url},
        )
        try:
            while True:
                try:
                    code = process.wait(timeout=interval)
                    on_tick(history.read(time.monotonic() - started))
                    return code
                except subprocess.TimeoutExpired:
                    on_tick(history.read(time.monotonic() - started))
                if time.monotonic() - started > deadline_seconds:
                    process.kill()
                    process.wait(timeout=10)
                    raise RuntimeError(
                        f"Locust did not stop within {deadline_seconds}s; see {directory / 'locust.log'}"
                    )
        except KeyboardInterrupt:
            # Locust writes its statistics and report when interrupted: let it, then go on
            process.send_signal(signal.SIGINT)
            return process.wait(timeout=STOP_TIMEOUT_SECONDS + 30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


__all__ = [
    "JOURNEYS_FILE",
    "Plan",
    "PlanError",
    "Tick",
    "check_target",
    "locust_available",
    "locust_command",
    "make_plan",
    "new_report_directory",
    "parse_duration",
    "run_locust",
]
