"""scripts/find-broker.sh, which `make run-distributed` asks for a broker: NATS only with JetStream,
then Redis, then a Kafka-protocol broker, nothing when none answers (agora then names
AGORA_BROKER_URL). Stand-ins listen on free ports; the real NATS server is asked last."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agora.platform.testing.processes import free_port

SCRIPT = Path(__file__).parents[3] / "scripts" / "find-broker.sh"
NATS_GREETING = b'INFO {"server_id":"stand-in","version":"2.9.10","proto":1,"jetstream":%s}\r\n'


@contextmanager
def listening(greeting: bytes = b"") -> Iterator[int]:
    """A loopback port that accepts connections and says ``greeting`` to each."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def find(nats: int, redis: int, kafka: int) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "AGORA_FIND_NATS_PORT": str(nats),
        "AGORA_FIND_REDIS_PORT": str(redis),
        "AGORA_FIND_KAFKA_PORT": str(kafka),
    }
    found = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert found.returncode == 0, found.stderr
    return found


def test_nats_with_jetstream_comes_first() -> None:
    with listening(NATS_GREETING % b"true") as nats, listening() as redis, listening() as kafka:
        assert find(nats, redis, kafka).stdout == f"nats://127.0.0.1:{nats}\n"


def test_nats_without_jetstream_is_passed_over_and_said_so() -> None:
    with listening(NATS_GREETING % b"false") as nats, listening() as redis:
        found = find(nats, redis, free_port())
    assert found.stdout == f"redis://127.0.0.1:{redis}/0\n"
    assert "without JetStream" in found.stderr


def test_kafka_when_it_is_the_only_one() -> None:
    with listening() as kafka:
        assert find(free_port(), free_port(), kafka).stdout == f"kafka://127.0.0.1:{kafka}\n"


def test_nothing_when_no_broker_answers() -> None:
    found = find(free_port(), free_port(), free_port())
    assert (found.stdout, found.stderr) == ("", "")


@pytest.mark.backend("nats")
def test_the_real_nats_server_is_found(nats_url: str) -> None:
    port = urlsplit(nats_url).port or 4222
    assert find(port, free_port(), free_port()).stdout == f"nats://127.0.0.1:{port}\n"
