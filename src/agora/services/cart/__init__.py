"""The cart service: per-user and anonymous carts, merged at login, priced from the catalog at read time.

Carts live in Redis when ``AGORA_REDIS_URL`` is set (one hash per cart, expiring by itself), else
in the cart's own SQL database (embedded mode), swept periodically. Its spec is the only thing
the registry needs; everything is built at start-up (the chassis's context, then the cart's
runtime: ``spec.start``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agora.platform.service import ServiceContext, ServiceSpec
from agora.platform.tasks import PeriodicTask
from agora.services.cart.endpoints import router
from agora.services.cart.models import metadata
from agora.services.cart.port import DirectCart
from agora.services.cart.runtime import readiness_checks, start
from agora.services.cart.service import sweep_expired
from agora.services.cart.settings import CartSettings


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    interval = context.settings_as(CartSettings).sweep_interval_seconds
    return [PeriodicTask("cart.sweep_expired", interval, lambda: sweep_expired(context))]


spec = ServiceSpec(
    name="cart",
    title="Agora cart",
    settings_cls=CartSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    periodic=periodic,
    readiness_checks=readiness_checks,
    depends_on=("catalog",),
    port=DirectCart,
)

__all__ = ["CartSettings", "spec"]
