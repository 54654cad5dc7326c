"""Podman and podman-compose for the container tests: images built once per run, a compose
project brought up in stages, health checked, measured and removed.

Podman 4.3 without systemd schedules no healthchecks (its timers are systemd units), and
podman-compose ignores ``condition: service_healthy`` on podman older than 4.6. So the tests
play those two parts: :meth:`Stack.wait_healthy` runs each container's own healthcheck
(``podman healthcheck run``) until it passes, and :meth:`Stack.up_in_order` starts the stores,
then the migrations, then the services, then the front, waiting at each step for what the compose
file's ``depends_on`` conditions say. With Docker Compose, ``up --wait`` does both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose" / "compose.yaml"
IMAGE = os.environ.get("AGORA_TEST_IMAGE", "localhost/agora:test")
#: the same plus the ``ml`` extra, for recommendations and analytics (build-image.sh's naming:
#: the name with -ml, the same tag)
ML_IMAGE = os.environ.get(
    "AGORA_TEST_ML_IMAGE", "-ml:".join(IMAGE.rsplit(":", 1)) if ":" in IMAGE.rsplit("/", 1)[-1] else f"{IMAGE}-ml"
)
#: the same plus the PostgreSQL and MariaDB clients, for agora backup and restore (build-image.sh's
#: OPS_IMAGE)
OPS_IMAGE = os.environ.get(
    "AGORA_TEST_OPS_IMAGE", "-ops:".join(IMAGE.rsplit(":", 1)) if ":" in IMAGE.rsplit("/", 1)[-1] else f"{IMAGE}-ops"
)
BASE_IMAGE = "localhost/agora-base:bookworm"
BIN = Path(sys.executable).parent
STORES = ("postgres", "redis", "kafka", "minio", "mailpit")


def missing(reason: str) -> None:
    """A container tool this machine lacks: fails in CI (the provisioning script installs it), skips locally."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"containers: {reason} (scripts/provision-backends.sh installs it)")
    pytest.skip(f"containers: {reason}")


def run(
    args: Sequence[str], *, timeout: float = 120, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], timeout=timeout, check=check)


def tool(name: str) -> str:
    """A console script of this interpreter's environment (hadolint, podman-compose), else on PATH."""
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        missing(f"{name} is not installed")
    return str(found)


def require_podman() -> None:
    if shutil.which("podman") is None:
        missing("podman is not installed")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if info.returncode != 0:
        missing(f"podman does not work here: {info.stderr.strip()[-300:]}")


def build_images(log: Path) -> float:
    """The local Debian base (kept across runs), the three Agora images (common, ML, ops) and the
    stores' stand-ins; returns the seconds the Agora images' build took (cached layers make a
    rebuild of unchanged code fast, and the ML and ops images reuse every layer of the common one)."""
    env = {**os.environ, "BASE_IMAGE": BASE_IMAGE, "PYTHON": sys.executable, "OPS_IMAGE": OPS_IMAGE}
    with log.open("a") as out:
        for command in (
            [str(ROOT / "deploy/docker/build-local-base.sh"), BASE_IMAGE],
            [str(ROOT / "deploy/local-images/build.sh")],
        ):
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=900, check=False)
            assert done.returncode == 0, f"{command[0]} failed; see {log}"
        started = time.monotonic()
        done = subprocess.run(
            [str(ROOT / "deploy/docker/build-image.sh"), IMAGE, ML_IMAGE], stdout=out, stderr=subprocess.STDOUT,
            env=env, timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"deploy/docker/build-image.sh failed; see {log}"
    return time.monotonic() - started


def assert_one_layer_more(image: str, *, title: str) -> None:
    """``image`` is the common image (IMAGE) and one layer more, run the same way, titled ``title``."""
    common, other = (json.loads(podman("image", "inspect", name).stdout)[0] for name in (IMAGE, image))
    layers = common["RootFS"]["Layers"]
    assert other["RootFS"]["Layers"][: len(layers)] == layers and len(other["RootFS"]["Layers"]) == len(layers) + 1
    for key in ("User", "Entrypoint", "Cmd", "Env", "WorkingDir"):
        assert other["Config"][key] == common["Config"][key], key
    assert other["Config"]["Labels"]["org.opencontainers.image.title"] == title


def stand_in_environment() -> dict[str, str]:
    listed = run([str(ROOT / "deploy/local-images/build.sh"), "--env"]).stdout
    return dict(line.split("=", 1) for line in listed.split())


def _poll(check: Callable[[], bool], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within:g}s: {what}"
        time.sleep(0.25)  # another process's state: there is no event to await from here


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def wait_http(url: str, *, within: float, container: str) -> None:
    def answers() -> bool:
        state = podman("inspect", "--format", "{{.State.Status}}", container).stdout.strip()
        assert state == "running", f"{container} is {state}:\n{podman('logs', container, check=False).stderr[-4000:]}"
        return _answers(url)

    _poll(answers, within=within, what=f"{url} answering 200")


def wait_log(container: str, text: str, *, within: float) -> None:
    def logged() -> bool:
        result = podman("logs", container, check=False)
        return text in result.stdout + result.stderr

    _poll(logged, within=within, what=f"{text!r} in the logs of {container}")


def wait_metric(port: int, sample: str, *, within: float) -> None:
    _poll(lambda: sample in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text, within=within, what=sample)


@dataclass
class Stack:
    """One compose project of deploy/compose/compose.yaml, under its own name and ports."""

    project: str
    env: dict[str, str]
    log: Path
    services: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [tool("podman-compose"), "--project-name", self.project, "--file", str(COMPOSE_FILE), *args]
        result = run(command, timeout=timeout, check=False, env={**os.environ, **self.env})
        with self.log.open("a") as out:
            out.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise AssertionError(f"podman-compose {' '.join(args)} exited {result.returncode}; see {self.log}")
        return result

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def up_in_order(self, services: Sequence[str], *, front_url: str) -> None:
        """Stores, then migrations (each must exit 0), then the services and the front. Ready when
        the front's /readyz reports every service ready (one request a round, where a healthcheck
        is a podman exec per container), then each container's own healthcheck must pass too."""
        self.compose("up", "-d", "--no-deps", *STORES)
        self.wait_healthy(STORES, within=240)
        migrations = [f"{name}-migrate" for name in services]
        self.compose("up", "-d", "--no-deps", *migrations, timeout=600)
        self.wait_exited(migrations, within=420)
        self.compose("up", "-d", "--no-deps", *services, "front", timeout=600)
        _poll(lambda: _answers(f"{front_url}/readyz"), within=600, what="every service ready behind the front")
        # every service answers already; each healthcheck is a `podman exec` of a Python with a 5 s
        # timeout, one container after another: on a machine at load ~50 a round takes minutes
        self.wait_healthy([*services, "front"], within=300)

    def state(self, service: str) -> dict[str, object]:
        inspected = json.loads(podman("inspect", "--format", "{{json .State}}", self.container(service)).stdout)
        return dict(inspected)

    def wait_exited(self, services: Iterable[str], *, within: float) -> None:
        self._until(services, self._exited_cleanly, within=within, what="still running")

    def wait_healthy(self, services: Iterable[str], *, within: float) -> None:
        """Runs each container's healthcheck (the systemd timer podman lacks here) until it passes."""
        self._until(services, self._healthy, within=within, what="not healthy")

    def _until(self, services: Iterable[str], settled: Callable[[str], bool], *, within: float, what: str) -> None:
        pending = set(services)
        deadline = time.monotonic() + within
        while pending := {service for service in sorted(pending) if not settled(service)}:
            assert time.monotonic() < deadline, f"{what} after {within:g}s: {sorted(pending)}"
            time.sleep(1)  # other containers' progress: podman wait would block on one at a time

    def _exited_cleanly(self, service: str) -> bool:
        state = self.state(service)
        if state["Status"] != "exited":
            return False
        assert state["ExitCode"] == 0, f"{service} exited {state['ExitCode']}:\n{self.logs(service)}"
        return True

    def _healthy(self, service: str) -> bool:
        state = self.state(service)
        assert state["Status"] == "running", f"{service} is {state['Status']}:\n{self.logs(service)}"
        return podman("healthcheck", "run", self.container(service), check=False, timeout=60).returncode == 0

    def logs(self, service: str) -> str:
        result = podman("logs", "--tail", "60", self.container(service), check=False)
        return (result.stdout + result.stderr)[-6000:]

    def memory_bytes(self) -> dict[str, int]:
        """Each running container's memory use (``podman stats --no-stream``)."""
        listed = podman("ps", "--filter", f"label=io.podman.compose.project={self.project}", "--format", "{{.Names}}")
        names = listed.stdout.split()
        stats = json.loads(podman("stats", "--no-stream", "--format", "json", *names, timeout=120).stdout)
        return {entry["name"]: _bytes(entry["mem_usage"].split("/")[0]) for entry in stats}

    def leftovers(self) -> list[str]:
        found = []
        for kind in ("ps", "volume", "network", "pod"):
            args = ["--all"] if kind in ("ps", "pod") else []
            listed = podman(
                kind,
                "ls" if kind != "ps" else "--noheading",
                *args,
                "--format",
                "{{.Name}}" if kind != "ps" else "{{.Names}}",
                check=False,
            )
            found += [f"{kind}:{name}" for name in listed.stdout.split() if name.startswith(self.project)]
        return found


def _bytes(text: str) -> int:
    """``123.4MB`` / ``1.2GB`` / ``512kB`` (podman's decimal units) in bytes."""
    text = text.strip()
    for suffix, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3), ("B", 1)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text))
