"""``agora up --distributed``'s supervisor: restart with backoff, give up, leave deliberate stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

import pytest
from structlog.testing import capture_logs

from agora.supervisor import BACKOFF_CAP, MAX_RAPID_FAILURES, STABLE_AFTER, Supervisor, backoff, service_environment

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def exiting(code: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.exit({code})"]


class Spawner:
    """Starts real (tiny) processes and remembers them, so every one is reaped at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, command: Sequence[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(list(command))
        self.started.append(process)
        return process

    def wait_all(self) -> None:
        for process in self.started:
            process.wait(timeout=20)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def spawn():  # type: ignore[no-untyped-def]
    spawner = Spawner()
    yield spawner
    spawner.close()


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(50) == BACKOFF_CAP


def test_a_killed_service_is_restarted_after_its_backoff(spawn: Spawner) -> None:
    supervisor = Supervisor({"payments": SLEEPER}, spawn)
    first = supervisor.children[0].process
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    with capture_logs() as logs:
        supervisor.check(now=100.0)
        assert supervisor.children[0].process is first  # waiting out the backoff
        supervisor.check(now=100.0 + backoff(1))
    restarted = supervisor.children[0].process
    assert restarted is not first and restarted.poll() is None
    assert [(line["event"], line["service"], line.get("exit_code"), line["attempt"]) for line in logs] == [
        ("service_exited", "payments", -signal.SIGKILL, 1),
        ("service_restarted", "payments", None, 1),
    ]
    supervisor.stop(grace=5)
    assert restarted.poll() == -signal.SIGTERM


def test_it_gives_up_after_rapid_failures(spawn: Spawner) -> None:
    supervisor = Supervisor({"orders": exiting(3)}, spawn)
    child = supervisor.children[0]
    child.started = now = 0.0
    with capture_logs() as logs:
        for _ in range(MAX_RAPID_FAILURES * 2):
            spawn.wait_all()
            supervisor.check(now)  # notes the exit, right after the start: a rapid failure
            if child.done:
                break
            now += BACKOFF_CAP
            supervisor.check(now)  # past the backoff: starts it again
    events = [line["event"] for line in logs]
    assert events.count("service_restarted") == MAX_RAPID_FAILURES - 1
    assert events[-1] == "service_given_up" and events.count("service_given_up") == 1
    assert logs[-1]["exit_code"] == 3 and "not restarting" in logs[-1]["detail"]
    assert len(spawn.started) == MAX_RAPID_FAILURES
    supervisor.check(now + 1000)
    assert len(spawn.started) == MAX_RAPID_FAILURES


def test_a_long_run_forgives_earlier_failures(spawn: Spawner) -> None:
    supervisor = Supervisor({"orders": exiting(1)}, spawn)
    child = supervisor.children[0]
    child.rapid_failures = MAX_RAPID_FAILURES - 1
    child.started = 0.0
    spawn.wait_all()
    with capture_logs() as logs:
        supervisor.check(now=STABLE_AFTER + 1)
    assert logs[0]["event"] == "service_exited" and logs[0]["attempt"] == 1


@pytest.mark.parametrize("how", ["exit 0", "SIGTERM"])
def test_a_service_stopped_on_purpose_stays_stopped(spawn: Spawner, how: str) -> None:
    supervisor = Supervisor({"ads": exiting(0) if how == "exit 0" else SLEEPER}, spawn)
    process = supervisor.children[0].process
    if how == "SIGTERM":
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    with capture_logs() as logs:
        for now in (1.0, 100.0, 1000.0):
            supervisor.check(now)
    assert [line["event"] for line in logs] == ["service_stopped"]
    assert len(spawn.started) == 1


def test_nothing_is_restarted_while_stopping(spawn: Spawner) -> None:
    supervisor = Supervisor({"a": SLEEPER, "b": SLEEPER}, spawn)
    supervisor.stop(grace=5)
    with capture_logs() as logs:
        supervisor.check(now=1e6)
    assert logs == [] and len(spawn.started) == 2
    assert [process.poll() for process in spawn.started] == [-signal.SIGTERM, -signal.SIGTERM]


async def test_watch_restarts_a_killed_service_without_being_polled(
    spawn: Spawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event loop hears of the exit (a pidfd per child): the supervisor looks at its children
    when one ends or a backoff is over, and sleeps otherwise (an idle set costs no CPU)."""
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open here: the supervisor polls instead")
    supervisor = Supervisor({"payments": SLEEPER, "ads": SLEEPER}, spawn)
    looks = 0
    check = supervisor.check

    def counting_check(now: float) -> None:
        nonlocal looks
        looks += 1
        check(now)

    monkeypatch.setattr(supervisor, "check", counting_check)
    restarted_event = asyncio.Event()
    restart = supervisor._restart

    def noting_restart(child: object, now: float) -> None:
        restart(child, now)  # type: ignore[arg-type]
        restarted_event.set()

    monkeypatch.setattr(supervisor, "_restart", noting_restart)
    watching = asyncio.create_task(supervisor.watch())
    try:
        await asyncio.sleep(1.0)  # idle: nothing to look at after the first look
        assert looks == 1
        first = supervisor.children[0].process
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(restarted_event.wait(), timeout=20)
        restarted = supervisor.children[0].process
        assert restarted is not first and restarted.poll() is None
        assert looks <= 4, "an exit, then its backoff: a few looks, not a poll loop"
    finally:
        supervisor.stopping = True
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        supervisor.stop(grace=5)
    assert supervisor._pidfds == {}


def test_the_service_processes_run_at_optimization_level_2() -> None:
    assert service_environment({"PATH": "/bin"}) == {"PATH": "/bin", "PYTHONOPTIMIZE": "2"}


@pytest.mark.parametrize("chosen", ["0", "1", ""])
def test_an_explicit_optimization_level_wins(chosen: str) -> None:
    assert service_environment({"PYTHONOPTIMIZE": chosen})["PYTHONOPTIMIZE"] == chosen
