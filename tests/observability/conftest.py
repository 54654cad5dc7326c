"""The rules, alerts (and their runbooks) of deploy/observability: all marked ``observability``
(``pytest -m observability``). promtool and prometheus come from Debian's ``prometheus`` package,
the Alertmanager from ``prometheus-alertmanager`` (scripts/provision-backends.sh installs both); a
missing tool fails these tests, it never skips them."""

from __future__ import annotations

import shutil

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/observability/" in str(item.path):
            item.add_marker(pytest.mark.observability)


def prometheus_tool(name: str) -> str:
    found = shutil.which(name)
    package = "prometheus-alertmanager" if "alertmanager" in name else "prometheus"
    assert found, f"{name} is needed (apt-get install {package}; scripts/provision-backends.sh does it)"
    return found
