"""The cluster manifests' tests: all marked ``k8s`` (``pytest -m k8s``); static, a few seconds."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/k8s/" in str(item.path):
            item.add_marker(pytest.mark.k8s)
