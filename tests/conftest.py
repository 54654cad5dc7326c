"""Fixtures shared by every test: real backends (databases, brokers), tokens, running services.

The terminal summary lists how many tests passed on each real backend, so a run shows that the
suite exercised SQLite, PostgreSQL, MariaDB, the Kafka-protocol broker, NATS and Redis; in CI a
backend with no passing test fails the run.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

pytest_plugins = [
    "agora.platform.testing.databases",
    "agora.platform.testing.auth",
    "agora.platform.testing.brokers",
]

BACKENDS = ("sqlite", "postgresql", "mariadb", "memory", "kafka", "nats", "redis")
REQUIRED_IN_CI = ("sqlite", "postgresql", "mariadb", "kafka", "nats", "redis")

_passed: Counter[str] = Counter()
_failed: Counter[str] = Counter()
_skipped: Counter[str] = Counter()


def _backends_of(item: pytest.Item) -> set[str]:
    callspec = getattr(item, "callspec", None)
    found = {value for value in (callspec.params.values() if callspec else ()) if isinstance(value, str)}
    found.update(marker.args[0] for marker in item.iter_markers("backend") if marker.args)
    return found.intersection(BACKENDS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        for backend in _backends_of(item):
            if report.passed:
                _passed[backend] += 1
            elif report.failed:
                _failed[backend] += 1
            else:
                _skipped[backend] += 1


def _missing_in_ci(config: pytest.Config) -> list[str]:
    """Required backends with no passing test, on a full CI run (not a selection)."""
    full_run = not config.option.keyword and not config.option.markexpr and config.args in (["tests"], [])
    if os.environ.get("CI", "").lower() != "true" or not full_run:
        return []
    return [backend for backend in REQUIRED_IN_CI if _passed[backend] == 0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The deep schemathesis run (``-m fuzz``, tests/e2e/test_api_conformance.py) runs only when
    asked for: it takes several times the brief run's minutes, and the brief one, which covers
    every operation of every service with fewer random cases, is in the default run."""
    if "fuzz" in (config.option.markexpr or ""):
        return
    deselected = [item for item in items if item.get_closest_marker("fuzz")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("fuzz")]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _missing_in_ci(session.config) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if not _passed and not _failed:
        return
    terminalreporter.section("real backends exercised")
    for backend in BACKENDS:
        terminalreporter.write_line(
            f"{backend:>11}: {_passed[backend]:4d} passed, {_failed[backend]:3d} failed, {_skipped[backend]:3d} skipped"
        )
    missing = _missing_in_ci(config)
    if missing:
        terminalreporter.write_line(f"CI: no passing test on {', '.join(missing)}: the run fails", red=True)
