"""A private PgBouncer in transaction pooling for tests, in front of the loopback PostgreSQL.

Uses Debian's ``pgbouncer`` binary (``scripts/provision-backends.sh`` installs it) with an ini
written to a temporary directory, on a free port; never a system service. PgBouncer refuses to
run as root, so as root it is started with ``-u postgres``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from agora.platform.testing.processes import free_port


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(path).exists()), None
    )
    if not found:
        raise FileNotFoundError("pgbouncer is not installed (apt-get install -y pgbouncer)")
    return found


class PrivatePgBouncer:
    """``with PrivatePgBouncer(server_url) as bouncer: bouncer.url(database)``."""

    def __init__(self, server_url: str, *, pool_size: int = 4, max_client_conn: int = 200) -> None:
        server = make_url(server_url)
        self.server_host = server.host or "127.0.0.1"
        self.server_port = server.port or 5432
        self.user = server.username or "postgres"
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="agora-pgbouncer-"))
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        (self.directory / "userlist.txt").write_text(f'"{self.user}" ""\n')
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.directory / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
        )
        return ini

    def start(self) -> PrivatePgBouncer:
        ini = self._write_config()
        command = [pgbouncer_binary(), str(ini)]
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            for path in self.directory.iterdir():
                shutil.chown(path, "postgres", "postgres")
            command[1:1] = ["-u", "postgres"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 20.0) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self._process.returncode}: {self.log()[-500:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)  # a server starting in another process: nothing to await
        raise TimeoutError(f"pgbouncer did not listen on {self.port}: {self.log()[-500:]}")

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, database: str, *, flag: bool = True) -> str:
        query = "?pgbouncer=true" if flag else ""
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}{query}"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivatePgBouncer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
