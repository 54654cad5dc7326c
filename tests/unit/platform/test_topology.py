"""The service names the web may import without importing the services match the registry."""

from __future__ import annotations

from agora.registry import service_specs
from agora.topology import SERVICE_NAMES


def test_topology_lists_the_registered_services_in_order() -> None:
    assert tuple(spec.name for spec in service_specs()) == SERVICE_NAMES
