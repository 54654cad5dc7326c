"""Which stores the configuration has, and the order they are saved and restored in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agora.platform.db.engine import dialect_of
from agora.platform.messaging.transports import JOURNAL_FILE
from agora.platform.service import ServiceSpec
from agora.platform.settings import PlatformSettings, load_settings

#: The order of a backup (docs/operations.md, "Backups and restore"): orders first (its snapshot
#: is the cut-off), then the services its saga calls, then the consumers of its events, then
#: what everything points at (products, images, users); the broker's journal last.
ORDER: tuple[str, ...] = (
    "orders",
    "payments",
    "inventory",
    "shipping",
    "currency",
    "cart",
    "carts",
    "notifications",
    "recommendations",
    "analytics",
    "support",
    "ads",
    "catalog",
    "media",
    "media-objects",
    "identity",
    "web",
    "broker",
)

DATABASE_KINDS = ("sqlite", "postgresql", "mysql")


@dataclass(frozen=True)
class Store:
    """One thing to save: a service's database, the carts in Redis, the media objects, the journal."""

    name: str
    kind: str
    """``sqlite``, ``postgresql``, ``mysql``, ``redis``, ``local``, ``s3`` or ``journal``."""
    target: str
    """Where it lives, without any password (shown and written to the manifest)."""
    spec: ServiceSpec | None = None
    """The service whose migrations apply (databases only)."""
    url: str = field(default="", repr=False)
    """The database or Redis URL with its password (never written anywhere)."""
    options: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_database(self) -> bool:
        return self.kind in DATABASE_KINDS


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def plan_stores(specs: Sequence[ServiceSpec], platform: PlatformSettings) -> list[Store]:
    """Every store of this configuration, in :data:`ORDER`."""
    stores: list[Store] = []
    for spec in specs:
        settings = load_settings(spec.settings_cls)
        url = settings.resolved_database_url(platform)
        stores.append(Store(spec.name, dialect_of(url), _shown(url), spec=spec, url=url))
        if spec.name == "cart":
            stores += _carts(settings, platform)
        if spec.name == "media":
            stores.append(_media(settings, platform))
    if platform.broker_url.startswith("memory:"):
        # embedded mode's broker keeps its journal in the data directory; a networked broker is
        # not saved (the outboxes are what a restore replays, see docs/operations.md)
        journal = (platform.data_dir / JOURNAL_FILE).resolve()
        stores.append(Store("broker", "journal", str(journal), options={"path": journal}))
    unknown = [store.name for store in stores if store.name not in ORDER]
    if unknown:
        raise ValueError(f"no backup order for {', '.join(unknown)}: add it to agora.backup.ORDER")
    return sorted(stores, key=lambda store: ORDER.index(store.name))


def _carts(settings: Any, platform: PlatformSettings) -> list[Store]:
    from agora.services.cart.settings import StoreKind

    if settings.store is StoreKind.sql or (settings.store is StoreKind.auto and not platform.redis_url):
        return []  # carts live in the cart service's database, saved with it
    if platform.redis_url is None:
        raise ValueError("AGORA_CART_STORE=redis needs AGORA_REDIS_URL")
    prefix = settings.redis_key_prefix
    return [Store("carts", "redis", f"{_redis_shown(platform.redis_url)} {prefix}*", url=platform.redis_url,
                  options={"prefix": prefix})]  # fmt: skip


def _redis_shown(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _media(settings: Any, platform: PlatformSettings) -> Store:
    if settings.s3_bucket:
        where = f"s3://{settings.s3_bucket}" + (f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else "")
        return Store("media-objects", "s3", where, options={"settings": settings, "platform": platform})
    directory = settings.resolved_local_dir(platform)
    return Store("media-objects", "local", str(directory), options={"settings": settings, "platform": platform})
