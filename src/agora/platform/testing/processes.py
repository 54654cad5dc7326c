"""Start and stop real processes in tests (``agora up``, ``agora serve``, servers), bounded in time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Below Linux's ephemeral range (32768-60999), so a port block chosen here is not handed out to
#: some client socket between the check and the server's bind.
_BLOCK_RANGE = (20_000, 32_000)


def free_port_block(count: int, *, attempts: int = 200) -> int:
    """The first of ``count`` consecutive loopback ports that are all free right now.

    ``agora up --distributed`` puts its services on consecutive ports; two ``free_port()`` calls
    may land inside each other's block (the kernel hands out ephemeral ports close together).
    """
    import random

    for _ in range(attempts):
        base = random.randrange(_BLOCK_RANGE[0], _BLOCK_RANGE[1] - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no block of {count} free ports found")


def serving_pids(ports: Sequence[int]) -> list[int]:
    """Processes running ``agora serve ... --port P`` for any of ``ports`` (Linux ``/proc``)."""
    wanted = {str(port).encode() for port in ports}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"serve" in argv and b"--port" in argv and wanted.intersection(argv) and state != b"Z":
            found.append(int(entry.name))
    return found


def agora_command(*args: str) -> list[str]:
    """The ``agora`` CLI of this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "agora", *args]


def create_admin(email: str, *, data_dir: str, env: dict[str, str]) -> None:
    """``agora create-admin`` (the password from ``AGORA_ADMIN_PASSWORD`` in ``env``), before serving."""
    created = subprocess.run(  # noqa: S603 - test-controlled command
        agora_command("create-admin", "--email", email, "--data-dir", data_dir),
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stdout.decode() + created.stderr.decode()


def wait_until_ready(url: str, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Polls ``url`` until it answers 200; fails early when ``process`` has exited."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} was ready")
        try:
            # generous: on a loaded machine the front's /readyz asks every process in turn
            response = httpx.get(url, timeout=10.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:g}s: {last}")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 20.0) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return int(process.returncode)


@contextmanager
def running_process(
    command: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``command`` with output to ``log_path``; always stopped on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - test-controlled command
            list(command), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )
        try:
            yield process
        finally:
            stop(process)


@contextmanager
def agora_up(
    directory: Path, *, admin: tuple[str, str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> Iterator[str]:
    """An admin account (``agora create-admin``), then ``agora up`` on a free port with its data in
    ``directory / "var"`` and its log in ``directory / "agora.log"``; yields the base URL once ready."""
    data_dir = directory / "var"
    email, password = admin
    create_admin(
        email,
        data_dir=str(data_dir),
        env={"AGORA_ENVIRONMENT": "development", "AGORA_LOG_LEVEL": "WARNING", "AGORA_ADMIN_PASSWORD": password},
    )
    port = free_port()
    command = agora_command("up", "--port", str(port), "--data-dir", str(data_dir))
    server_env = {"AGORA_LOG_LEVEL": "WARNING", **(env or {})}
    with running_process(command, log_path=directory / "agora.log", env=server_env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=timeout, process=process)
        yield base
