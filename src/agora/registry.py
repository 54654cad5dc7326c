"""The explicit list of services this build runs (no discovery: adding a service is one line)."""

from __future__ import annotations

from agora.platform.service import ServiceSpec


def service_specs() -> list[ServiceSpec]:
    from agora.services import catalog, currency, identity, shipping

    return [identity.spec, catalog.spec, currency.spec, shipping.spec]
