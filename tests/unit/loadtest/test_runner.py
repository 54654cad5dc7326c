"""``agora loadtest``'s arguments, and Locust staying out of agora's own processes."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from agora.loadtest.runner import JOURNEYS_FILE, PlanError, locust_command, make_plan, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("15s", 15), ("5m", 300), ("1h30m", 5400), ("2m5s", 125)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "5x", "m", "-5s", "1.5m"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(PlanError, match=r"^--duration: "):
        parse_duration(text)


def test_the_plan_keeps_the_shops_root_and_locust_gets_it(tmp_path: Path) -> None:
    plan = make_plan(url="http://127.0.0.1:8000/", users=200, spawn_rate=20, duration="5m", report_root=tmp_path)
    assert (plan.url, plan.duration_seconds) == ("http://127.0.0.1:8000", 300)
    command = locust_command(plan, tmp_path / "run")
    assert command[:3] == [sys.executable, "-m", "locust"] and str(JOURNEYS_FILE) in command
    flags = dict(itertools.pairwise(command))
    assert flags["--users"] == "200" and flags["--spawn-rate"] == "20" and flags["--run-time"] == "300s"
    assert "--headless" in command and flags["--csv"] == str(tmp_path / "run" / "locust")


def test_nothing_in_agora_imports_locust() -> None:
    """Locust patches the standard library with gevent; in a process that loaded ssl first it
    dies with RecursionError, so only its own process may load it (the journeys file)."""
    check = (
        "import sys, agora.cli, agora.loadtest, agora.loadtest.runner, agora.loadtest.report\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('locust', 'gevent'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
