"""The currency service: ISO 4217 currencies, rates per US dollar that admins set, exact conversion.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
It consumes no events and calls no other service.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.currency.endpoints import router
from agora.services.currency.models import metadata
from agora.services.currency.port import DirectCurrency
from agora.services.currency.runtime import start
from agora.services.currency.seed import seed
from agora.services.currency.settings import CurrencySettings

spec = ServiceSpec(
    name="currency",
    title="Agora currency",
    settings_cls=CurrencySettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    seed=seed,
    port=DirectCurrency,
)

__all__ = ["CurrencySettings", "spec"]
