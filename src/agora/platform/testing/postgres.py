"""A private PostgreSQL server for tests that stop and restart it (the shared one must keep running).

Uses the machine's PostgreSQL binaries; ``initdb`` refuses to run as root, so when the tests run
as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agora.platform.testing.processes import free_port


def _bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed")
    return found


class PrivatePostgres:
    def __init__(self, directory: Path | None = None) -> None:
        # pytest's tmp_path lives under a root-only directory the postgres user cannot enter
        self.directory = directory or Path(tempfile.mkdtemp(prefix="agora-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)  # noqa: S603

    def init(self) -> PrivatePostgres:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.directory}"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def wait_accepting(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run(  # noqa: S603
                [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True, timeout=10
            )
            if result.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("private PostgreSQL did not start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"
