"""The ads service: contextual ads chosen by a page's category and keywords, and admin CRUD.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
It consumes no events (a page names its category and keywords itself) and calls no other service.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.ads.endpoints import router
from agora.services.ads.models import metadata
from agora.services.ads.runtime import start
from agora.services.ads.seed import seed
from agora.services.ads.settings import AdsSettings

spec = ServiceSpec(
    name="ads",
    title="Agora ads",
    settings_cls=AdsSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    seed=seed,
)

__all__ = ["AdsSettings", "spec"]
