"""The explicit list of services this build runs (no discovery: adding a service is one line)."""

from __future__ import annotations

from agora.platform.service import ServiceSpec


def service_specs() -> list[ServiceSpec]:
    from agora.services import (
        ads,
        analytics,
        cart,
        catalog,
        currency,
        identity,
        inventory,
        media,
        notifications,
        orders,
        payments,
        recommendations,
        shipping,
        support,
        web,
    )

    return [
        identity.spec,
        catalog.spec,
        inventory.spec,
        cart.spec,
        currency.spec,
        shipping.spec,
        payments.spec,
        orders.spec,
        notifications.spec,
        recommendations.spec,
        ads.spec,
        analytics.spec,
        media.spec,
        support.spec,
        web.spec,
    ]
