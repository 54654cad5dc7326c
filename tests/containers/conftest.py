"""The container tests (marker ``containers``; alone: ``pytest -m containers`` or ``pytest
tests/containers``): the image and the compose stack built and run with podman on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.containers import engine

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def build_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("containers") / "build.log"


@pytest.fixture(scope="session")
def images(build_log: Path) -> float:
    """Builds the images once per run (layers cached across runs); the Agora image's build seconds."""
    engine.require_podman()
    return engine.build_images(build_log)
