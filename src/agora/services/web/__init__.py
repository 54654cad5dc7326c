"""The web: the storefront, the account pages, the admin console and the support chat's pages.

Server-rendered (Jinja2, htmx for partial updates, a small script of our own), drawn from the
other services' APIs with the visitor's session token; it owns no data. In embedded mode it
answers every path that is not ``/api/...``; distributed, the front proxy (or the ingress) sends
those paths to its process.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.web.endpoints import configure_app, router
from agora.services.web.models import metadata
from agora.services.web.runtime import periodic, start
from agora.services.web.settings import WebSettings

spec = ServiceSpec(
    name="web",
    title="Agora web",
    settings_cls=WebSettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    configure_app=configure_app,
    periodic=periodic,
    depends_on=(
        "identity",
        "catalog",
        "inventory",
        "cart",
        "currency",
        "shipping",
        "orders",
        "notifications",
        "recommendations",
        "ads",
        "analytics",
        "media",
        "support",
    ),
)

__all__ = ["WebSettings", "spec"]
