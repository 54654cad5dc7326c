"""A stop signal ends open streams at once: a browser tab's notification stream (SSE) does not
hold ``agora up``'s shutdown for the whole grace period."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready

pytestmark = pytest.mark.backend("sqlite")

GRACE_SECONDS = 60


def test_sigterm_ends_an_open_event_stream_instead_of_waiting_out_the_grace(tmp_path: Path) -> None:
    port = free_port()
    env = {"AGORA_ENVIRONMENT": "development", "AGORA_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)}
    command = agora_command("up", "--port", str(port), "--data-dir", str(tmp_path / "var"), "--no-seed")
    with running_process(command, log_path=tmp_path / "agora.log", env=env) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/readyz", timeout=120, process=process)
        credentials = {"email": "stream@example.org", "password": "a long enough passphrase"}
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.post("/api/identity/register", json=credentials).status_code == 201
            token = client.post("/api/identity/login", json=credentials).json()["access_token"]

        ready = threading.Event()
        ended = threading.Event()

        def listen() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.stream("GET", f"{base}/api/notifications/stream", headers=headers, timeout=None) as stream:
                for line in stream.iter_lines():
                    if line.startswith("event: ready"):
                        ready.set()
            ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(30), "the stream never said it was ready"

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GRACE_SECONDS + 30)
        took = time.monotonic() - started
        assert ended.wait(5), "the stream was not ended by the shutdown"
    # uvicorn re-raises the signal once it has shut down cleanly, so the status says SIGTERM
    assert process.returncode in (0, -signal.SIGTERM), (tmp_path / "agora.log").read_text()[-3000:]
    assert "Application shutdown complete" in (tmp_path / "agora.log").read_text()
    # the stream ended on the signal; with the old behaviour this took the full grace period
    assert took < GRACE_SECONDS / 2, f"shutdown took {took:.1f}s with an open stream"
