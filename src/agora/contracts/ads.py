"""What the ads service answers and publishes (topic ``ads``).

The storefront's product page asks ``GET /api/ads?category=&keywords=`` and renders the
:class:`ServedAd` items; admin tools and any consumer of ``ads.ad.*`` read :class:`Ad`.

Compatibility rule: fields are only ever added (with defaults); consumers ignore fields they do
not know (``extra="ignore"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agora.contracts.base import Event

#: Event types, stable strings (topic ``ads``).
AD_CREATED = "ads.ad.created"
AD_UPDATED = "ads.ad.updated"
AD_DELETED = "ads.ad.deleted"

#: The CloudEvents ``source`` of every ads event.
SOURCE = "agora/ads"

#: Why an ad was chosen for a page (also the ``reason`` label of ``agora_ads_served_total``).
Reason = Literal["category_and_keywords", "category", "keywords", "generic"]
REASONS: tuple[str, ...] = ("category_and_keywords", "category", "keywords", "generic")


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ServedAd(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """One item of ``GET /api/ads``: what a page shows, and why it was chosen."""

    id: str
    title: str
    text: str
    url: str
    image: str | None = None
    reason: Reason


class ServedAds(_Contract):
    items: list[ServedAd]


class Ad(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """An ad as the admin API returns it and ``ads.ad.created`` / ``updated`` carry it."""

    id: str
    title: str
    text: str
    url: str
    image: str | None = None
    categories: list[str]
    keywords: list[str]
    active: bool
    weight: int
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class AdCreated(Event):
    """``ads.ad.created``: the whole ad."""

    event_type: ClassVar[str] = AD_CREATED

    ad: Ad


class AdUpdated(Event):
    """``ads.ad.updated``: the ad after the change and the names of the fields that changed."""

    event_type: ClassVar[str] = AD_UPDATED

    ad: Ad
    changed: list[str]


class AdDeleted(Event):
    """``ads.ad.deleted``: the ad is gone (a hard delete; ``active: false`` is the soft way)."""

    event_type: ClassVar[str] = AD_DELETED

    id: str
    version: int
