"""deploy/docker/Dockerfile: linted, built (the common image within its size and without the ML
stack, agora-ml as one layer on top of it), and run the way compose and Kubernetes run it
(read-only root, no capabilities, numeric non-root user), stopped gracefully, and refusing to
start on a missing or wrong secret file."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from agora.platform.testing.processes import free_port
from tests.containers import engine
from tests.containers.engine import IMAGE, ML_IMAGE, podman

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

GRACE_SECONDS = 20
#: how `podman run` gives a container what compose and Kubernetes give it
HARDENED = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp")


def test_the_dockerfile_is_hadolint_clean() -> None:
    linted = engine.run([engine.tool("hadolint"), str(engine.ROOT / "deploy/docker/Dockerfile")], check=False)
    assert linted.returncode == 0, linted.stdout + linted.stderr


#: the optimization level, and the modules a service's app imports that have no bytecode for it
LEVEL_2_PROBE = """
import importlib.util, os, sys
from agora.cli import _platform, _specs
from agora.platform.http.app import create_service_app
from agora.platform.settings import load_settings
(spec,) = _specs(["catalog"])  # as agora serve catalog finds its service
create_service_app(spec, _platform(), load_settings(spec.settings_cls))
sources = [m.__file__ for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").endswith(".py")]
missing = [path for path in sources if not os.path.exists(importlib.util.cache_from_source(path))]
print(sys.flags.optimize, len(missing), missing[:5])
"""


def test_the_image(images: float) -> None:
    inspected = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/agora/bin/dumb-init", "--", "/opt/agora/bin/agora"]
    labels = config["Labels"]
    for label in ("title", "description", "version", "revision", "created", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{label}"), label
    # the target (docs/performance.md: 288 MB on the local Debian base, 129 MB of it)
    assert inspected["Size"] <= 350 * 10**6, f"{inspected['Size'] / 10**6:.0f} MB"
    # the final stage has nothing to build with: no compiler, no make, no pip
    probe = "for tool in gcc cc c++ make ld pip pip3; do command -v $tool; done; ls /opt/agora/bin"
    found = podman("run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", probe).stdout.split()
    assert not [line for line in found if line.startswith("/usr")], found
    assert "pip" not in found and "agora" in found and "dumb-init" in found
    # every process runs at optimization level 2 on bytecode compiled for it at build time: a
    # service's imports, the standard library's included, find their .opt-2.pyc (the root is
    # read-only, so a missing one would be compiled from source at every start)
    assert "PYTHONOPTIMIZE=2" in config["Env"]
    development = ("-e", "AGORA_ENVIRONMENT=development", "-e", "AGORA_DATA_DIR=/tmp/var")
    compiled = podman(
        "run", "--rm", *HARDENED, *development, "--entrypoint", "python3", IMAGE, "-c", LEVEL_2_PROBE, timeout=180
    )  # fmt: skip
    assert compiled.stdout.split("\n", 1)[0] == "2 0 []", compiled.stdout + compiled.stderr
    # the ML stack is agora-ml's alone
    absent = "from importlib.util import find_spec; print([n for n in ('numpy', 'scipy', 'sklearn') if find_spec(n)])"
    assert podman("run", "--rm", *HARDENED, "--entrypoint", "python3", IMAGE, "-c", absent).stdout.split() == ["[]"]


#: what recommendations and analytics do with the ML stack: a TF-IDF model built in the worker
#: process (as the service builds it) and orders scored
ML_PROBE = """
import asyncio, datetime
from agora.services.recommendations.similarity import ProductText, build_elsewhere
from agora.services.analytics.anomalies import OrderPoint, score_orders
tents = [ProductText(i, n + " tent", "dome tent", ["camping"], "outdoor") for i, n in (("a", "Red"), ("b", "Blue"))]
print(asyncio.run(build_elsewhere(tents, top_k=5)).similar("a")[0][0])
now = datetime.datetime.now(datetime.UTC)
print(len(score_orders([OrderPoint(str(n), f"u{n}", "EUR", 1000 + n, now) for n in range(30)])))
"""


def test_the_ml_image_is_the_common_one_and_one_layer(images: float) -> None:
    engine.assert_one_layer_more(ML_IMAGE, title="agora-ml")
    # the two features that need it work, read-only as the containers run
    ran = podman("run", "--rm", *HARDENED, "--entrypoint", "python3", ML_IMAGE, "-c", ML_PROBE, timeout=180)
    assert ran.stdout.split() == ["b", "30"], ran.stdout + ran.stderr


def _post_slowly(port: int, body: bytes, release: threading.Event, answer: list[bytes]) -> None:
    """A request in flight: headers and half the body, then the rest once ``release`` is set."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = (
            f"POST /api/identity/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        release.wait(60)
        sock.sendall(body[len(body) // 2 :])
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        answer.append(b"".join(chunks))


def test_the_demo_runs_read_only_and_stops_gracefully(images: float, tmp_path: Path) -> None:
    port, name = free_port(), f"agora-test-demo-{uuid.uuid4().hex[:8]}"
    podman(
        "run", "--detach", "--name", name, *HARDENED, "--volume", f"{name}:/var/lib/agora",
        "--publish", f"127.0.0.1:{port}:8000", "--stop-timeout", str(GRACE_SECONDS),
        "--env", f"AGORA_SHUTDOWN_GRACE_SECONDS={GRACE_SECONDS - 5}", IMAGE, "up", "--no-seed",
    )  # fmt: skip
    try:
        engine.wait_http(f"http://127.0.0.1:{port}/healthz", within=240, container=name)
        body = json.dumps(
            {
                "email": f"late-{uuid.uuid4().hex[:8]}@example.com",
                "password": "correct horse battery 7",
                "display_name": "Late",
            }
        ).encode()
        release, answer = threading.Event(), []
        client = threading.Thread(target=_post_slowly, args=(port, body, release, answer))
        client.start()
        # the request is in flight once identity counts it (its body still half-sent)
        engine.wait_metric(port, 'agora_http_requests_in_progress{service="identity"} 1.0', within=30)
        started = time.monotonic()
        stopper = threading.Thread(
            target=podman, args=("stop", "--time", str(GRACE_SECONDS), name), kwargs={"timeout": 60}
        )
        stopper.start()
        # SIGTERM has reached agora through dumb-init: it stopped accepting and waits for the request
        engine.wait_log(name, "Shutting down", within=30)
        release.set()
        client.join(60)
        stopper.join(60)
        elapsed = time.monotonic() - started
        assert answer and answer[0].startswith(b"HTTP/1.1 201"), answer
        state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["Status"] == "exited" and state["ExitCode"] == 0, state
        assert elapsed < GRACE_SECONDS, f"stopped after {elapsed:.1f}s"
    finally:
        podman("rm", "--force", "--volumes", name, check=False)
        podman("volume", "rm", "--force", name, check=False)


def _secrets(folder: Path, **files: str) -> Path:
    folder.mkdir(mode=0o755)
    for name, value in files.items():
        (folder / name).write_text(value)
        (folder / name).chmod(0o644)
    return folder


STRONG = {"AGORA_SECRET_KEY": "k" * 48, "AGORA_SERVICE_SECRET": "s" * 48}


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"AGORA_SECRET_KEY": "k" * 48}, "/run/secrets/AGORA_SERVICE_SECRET is missing"),
        ({**STRONG, "AGORA_SECRET_KEY": "too-short"}, "check the secret file /run/secrets/AGORA_SECRET_KEY"),
        ({**STRONG, "AGORA_SERVICE_SECRET": "\n"}, "the secret file /run/secrets/AGORA_SERVICE_SECRET is empty"),
        (STRONG, "the secret file /run/secrets/AGORA_CATALOG_DATABASE_PASSWORD is missing"),
    ],
    ids=["missing", "too-short", "empty", "database-password-missing"],
)
def test_a_missing_or_wrong_secret_file_stops_the_container(
    images: float, tmp_path: Path, files: dict[str, str], named: str
) -> None:
    folder = _secrets(tmp_path / "secrets", **files)
    started = time.monotonic()
    ran = podman(
        "run", "--rm", *HARDENED, "--volume", f"{folder}:/run/secrets:ro",
        "--env", "AGORA_ENVIRONMENT=production", "--env", "AGORA_SECRETS_DIR=/run/secrets",
        "--env", "AGORA_CATALOG_DATABASE_URL=postgresql+asyncpg://catalog@postgres.invalid:5432/catalog",
        IMAGE, "serve", "catalog", timeout=120, check=False,
    )  # fmt: skip
    output = ran.stdout + ran.stderr
    assert ran.returncode == 1, output
    assert named in " ".join(output.split()), output
    # at once, and before serving anything
    assert time.monotonic() - started < 60
    assert "Uvicorn running" not in output and "Application startup" not in output
