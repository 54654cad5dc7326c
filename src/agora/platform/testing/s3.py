"""A real S3 API for tests: moto's server mode on a free loopback port, over HTTP.

``moto_server`` ships with ``moto[server]`` (the test extra) next to the interpreter. It keeps
everything in memory and accepts any credentials; it does not check presigned signatures (a
test of signature tampering needs MinIO). Started once per test session by a fixture; stopped,
with its process, when the block exits.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agora.platform.testing.processes import free_port, running_process, wait_until_ready

#: Credentials moto accepts (any would do); boto refuses to sign without some.
ACCESS_KEY_ID = "agora-test"
SECRET_ACCESS_KEY = "agora-test-secret"  # noqa: S105 - moto's throwaway credentials


def moto_server_binary() -> Path:
    path = Path(sys.executable).parent / "moto_server"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install the test extra (moto[server])")
    return path


@contextmanager
def running_moto_server(log_dir: Path, *, timeout: float = 30.0) -> Iterator[str]:
    """Starts ``moto_server -H 127.0.0.1 -p <free port>``; yields its URL (``http://127.0.0.1:PORT``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(moto_server_binary()), "-H", "127.0.0.1", "-p", str(port)]
    with running_process(command, log_path=log_dir / "moto_server.log") as process:
        wait_until_ready(f"{url}/moto-api/", timeout=timeout, process=process)
        yield url


__all__ = ["ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "moto_server_binary", "running_moto_server"]
