"""The explicit list of services this build runs (no discovery: adding a service is one line).

The names are listed once, in :data:`agora.topology.SERVICE_NAMES` (the web reads them there
without importing any service); :func:`service_spec` imports the one package it is asked for, so
a process that runs one service (``agora serve catalog``) never imports the other fourteen and
the libraries only they use.
"""

from __future__ import annotations

from importlib import import_module

from agora.platform.service import ServiceSpec
from agora.topology import SERVICE_NAMES


class UnknownService(LookupError):
    """No service of this name is registered."""


def service_spec(name: str) -> ServiceSpec:
    """The spec of the service ``name``, importing that service's package only."""
    if name not in SERVICE_NAMES:
        raise UnknownService(name)
    spec = import_module(f"agora.services.{name}").spec
    if not (isinstance(spec, ServiceSpec) and spec.name == name):  # a check, not an assert: kept at -OO
        raise TypeError(f"agora.services.{name}.spec is not its spec")
    return spec


def service_specs() -> list[ServiceSpec]:
    """Every service's spec, in start-up order (imports every service package)."""
    return [service_spec(name) for name in SERVICE_NAMES]
