"""Keeps the service processes of ``agora up --distributed`` running.

A child that crashes or is killed (a non-zero exit, SIGKILL, SIGSEGV, the OOM killer) is started
again after an exponential backoff (``BACKOFF_FIRST`` doubling up to ``BACKOFF_CAP`` seconds);
after ``MAX_RAPID_FAILURES`` failures in a row, each within ``STABLE_AFTER`` seconds of its start the
supervisor gives up on that service and says so. A child stopped on purpose (exit 0, SIGTERM or
SIGINT from an operator) stays stopped: the same rule as systemd's ``Restart=on-failure``. While
the supervisor itself stops, nothing is restarted.

Every exit, restart and surrender is one structured log line (``service``, ``exit_code``,
``attempt``). The front's event loop learns of an exit from a pidfd per child (Linux 5.3+: the
descriptor turns readable when the process ends), so an idle set wakes the supervisor for
nothing: it sleeps until a child exits or a backoff ends. Where pidfds are missing it polls
``Popen.poll`` every ``POLL_INTERVAL`` instead (a blocking ``wait`` per child would need a thread
each).

The children run at optimization level 2 (``PYTHONOPTIMIZE=2``: no docstrings, no asserts), ~6 MiB
less each; docs/architecture.md, "Process hygiene", says why and what it costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("agora.supervisor")

BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
MAX_RAPID_FAILURES = 5
STABLE_AFTER = 30.0
POLL_INTERVAL = 0.5

#: Exit statuses of a process stopped on purpose (``Popen.returncode`` is -N for signal N).
DELIBERATE_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})

#: ``PYTHONOPTIMIZE`` of the service processes, unless the operator's environment sets its own.
OPTIMIZE = "2"

Spawn = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]


def backoff(attempt: int) -> float:
    """Seconds before restart number ``attempt`` (1, 2, ...): 0.5, 1, 2, 4 ... capped."""
    return float(min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (attempt - 1)))


def service_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with ``PYTHONOPTIMIZE`` at :data:`OPTIMIZE`, unless it names a level already
    (even an empty one, which Python reads as 0): an operator's explicit choice wins."""
    return {"PYTHONOPTIMIZE": OPTIMIZE, **environ}


@dataclass
class Child:
    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    rapid_failures: int = 0
    restart_at: float | None = None
    done: bool = False
    """Stopped on purpose or given up on: no longer watched."""


class Supervisor:
    """Starts the commands, restarts the ones that fail, stops them all (``stop``)."""

    def __init__(self, commands: Mapping[str, Sequence[str]], spawn: Spawn) -> None:
        self._spawn = spawn
        self.children = [Child(name, command, spawn(command)) for name, command in commands.items()]
        self.stopping = False
        self._changed: asyncio.Event | None = None
        self._pidfds: dict[int, int] = {}  # pid -> its pidfd, watched by the event loop

    async def watch(self) -> None:
        """Runs until cancelled or :meth:`stop` is called: looks at the children when one exits
        or a restart is due, else sleeps (see the module docstring)."""
        self._changed = asyncio.Event()
        try:
            while not self.stopping:
                now = time.monotonic()
                self.check(now)
                followed = all(self._follow(child.process) for child in self.children if not child.done)
                due = [child.restart_at for child in self.children if child.restart_at is not None]
                timeout = max(0.0, min(due) - now) if due else None
                if not followed:  # no pidfd here: poll
                    timeout = POLL_INTERVAL if timeout is None else min(timeout, POLL_INTERVAL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
                self._changed.clear()
        finally:
            self._unfollow_all()

    def _follow(self, process: subprocess.Popen[bytes]) -> bool:
        """Has the event loop wake :meth:`watch` when ``process`` ends; False without pidfds."""
        if process.pid in self._pidfds:
            return True
        if process.returncode is not None or not hasattr(os, "pidfd_open"):
            return process.returncode is not None
        try:
            pidfd = os.pidfd_open(process.pid)
        except OSError:  # an old kernel, or the process is already reaped
            return False
        self._pidfds[process.pid] = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._ended, process.pid)
        return True

    def _ended(self, pid: int) -> None:
        pidfd = self._pidfds.pop(pid, None)
        if pidfd is not None:
            asyncio.get_running_loop().remove_reader(pidfd)
            os.close(pidfd)
        if self._changed is not None:
            self._changed.set()

    def _unfollow_all(self) -> None:
        loop = asyncio.get_running_loop()
        for pidfd in self._pidfds.values():
            loop.remove_reader(pidfd)
            os.close(pidfd)
        self._pidfds.clear()

    def check(self, now: float) -> None:
        """One look at every child: note new exits, restart those whose backoff has passed."""
        for child in self.children:
            if self.stopping:
                return
            if child.done:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
                continue
            code = child.process.poll()
            if code is not None:
                self._exited(child, code, now)

    def _exited(self, child: Child, code: int, now: float) -> None:
        if code in DELIBERATE_EXITS:
            child.done = True
            log.warning("service_stopped", service=child.name, exit_code=code, restarting=False)
            return
        ran = now - child.started
        child.rapid_failures = child.rapid_failures + 1 if ran < STABLE_AFTER else 1
        attempt = child.rapid_failures
        if attempt >= MAX_RAPID_FAILURES:
            child.done = True
            log.error(
                "service_given_up",
                service=child.name,
                exit_code=code,
                attempt=attempt,
                detail=f"{child.name} failed {attempt} times in a row, each within {STABLE_AFTER:g}s of "
                "starting; not restarting it again (its log says why)",
            )
            return
        delay = backoff(attempt)
        child.restart_at = now + delay
        log.warning("service_exited", service=child.name, exit_code=code, attempt=attempt, restart_in=delay)

    def _restart(self, child: Child, now: float) -> None:
        child.restart_at = None
        child.process = self._spawn(child.command)
        child.started = now
        log.warning("service_restarted", service=child.name, pid=child.process.pid, attempt=child.rapid_failures)

    def stop(self, grace: float) -> None:
        """SIGTERM to every child, up to ``grace`` seconds for them to finish, then SIGKILL."""
        self.stopping = True
        running = [child.process for child in self.children if child.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
