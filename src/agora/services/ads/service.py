"""The ads' rules: which ads a page gets, what a valid ad is, and which event a change publishes.

No web framework here and no commit: the request session (or the seed's unit of work) commits a
change and its ``ads.ad.*`` event together. Refusals are :class:`agora.platform.errors.ServiceError`
subclasses naming the field; the chassis answers them as problem+json.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from agora.contracts.ads import Ad as AdContract
from agora.contracts.ads import AdCreated, AdDeleted, AdUpdated
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError, PreconditionFailedError, UnprocessableError
from agora.platform.http.pagination import Cursors
from agora.platform.messaging import Outbox
from agora.services.ads.matching import Candidate, rank, stems
from agora.services.ads.models import Ad
from agora.services.ads.repository import AdRepository
from agora.services.ads.schemas import AdCreate, AdUpdate

#: The list an ads cursor belongs to.
ADS_LIST = "ads"


def ad_document(ad: Ad) -> dict[str, Any]:
    """An ad as the admin API returns it and events carry it (``agora.contracts.ads.Ad``)."""
    return {
        "id": ad.id,
        "title": ad.title,
        "text": ad.text,
        "url": ad.url,
        "image": ad.image,
        "categories": ad.categories,
        "keywords": ad.keywords,
        "active": ad.active,
        "weight": ad.weight,
        "starts_at": iso_utc(ad.starts_at),
        "ends_at": iso_utc(ad.ends_at),
        "version": ad.version,
        "created_at": iso_utc(ad.created_at),
        "updated_at": iso_utc(ad.updated_at),
    }


def ad_contract(ad: Ad) -> AdContract:
    """The ad as events carry it."""
    return AdContract.model_validate(ad_document(ad))


def served_document(ad: Ad, reason: str) -> dict[str, Any]:
    """One ad as a page shows it (``agora.contracts.ads.ServedAd``)."""
    return {"id": ad.id, "title": ad.title, "text": ad.text, "url": ad.url, "image": ad.image, "reason": reason}


def etag(ad: Ad) -> str:
    return f'"{ad.version}"'


@dataclass(frozen=True)
class AdPage:
    items: list[Ad]
    next_cursor: str | None


def _check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise UnprocessableError("ends_at must be after starts_at.", field="body.ends_at")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class AdsService:
    def __init__(self, session: AsyncSession, *, events: Outbox) -> None:
        self.session = session
        self.events = events
        self.repository = AdRepository(session)

    # -- serving --------------------------------------------------------------------------------

    async def choose(
        self, *, category: str | None, keywords: list[str], limit: int, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The ads for a page, best first, each with the reason it was chosen."""
        ads = {ad.id: ad for ad in await self.repository.servable(now or utcnow())}
        candidates = [
            Candidate(id=ad.id, categories=frozenset(ad.categories), keywords=stems(ad.keywords), weight=ad.weight)
            for ad in ads.values()
        ]
        choices = rank(candidates, category=category, keywords=stems(keywords), limit=limit)
        return [served_document(ads[choice.id], choice.reason) for choice in choices]

    # -- admin reads ----------------------------------------------------------------------------

    async def get(self, ad_id: str) -> Ad:
        ad = await self.repository.get(ad_id) if _is_uuid(ad_id) else None
        if ad is None:
            raise NotFoundError(f"No ad with id {ad_id}.", field="id")
        return ad

    async def list_all(self, *, limit: int, cursor: str | None, cursors: Cursors) -> AdPage:
        """Newest first; a refused cursor is the chassis's 422 naming ``query.cursor``."""
        after = cursors.decode(cursor, tuple[datetime, str], of=ADS_LIST)
        rows = list(await self.repository.page(limit=limit + 1, after=after))
        items, next_cursor = cursors.page(rows, limit, lambda ad: (ad.created_at, ad.id), of=ADS_LIST)
        return AdPage(items=items, next_cursor=next_cursor)

    # -- writes ---------------------------------------------------------------------------------

    async def create(self, data: AdCreate, *, ad_id: str | None = None) -> Ad:
        _check_dates(data.starts_at, data.ends_at)
        now = utcnow()
        ad = Ad(
            id=ad_id or str(uuid.uuid4()),
            title=data.title,
            text=data.text,
            url=data.url,
            image=data.image,
            categories_text=" ".join(data.categories),
            keywords_text=" ".join(data.keywords),
            active=data.active,
            weight=data.weight,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            created_at=now,
            updated_at=now,
        )
        await self.repository.add(ad)
        await self._emit(AdCreated(ad=ad_contract(ad)), ad.id)
        return ad

    async def load_for_update(self, ad_id: str, *, expected_version: int | None = None) -> Ad:
        ad = await self.repository.get_for_update(ad_id) if _is_uuid(ad_id) else None
        if ad is None:
            raise NotFoundError(f"No ad with id {ad_id}.", field="id")
        if expected_version is not None and expected_version != ad.version:
            raise PreconditionFailedError(
                f"The ad is at version {ad.version}, not {expected_version}; fetch it again and retry.",
                field="if-match",
            )
        return ad

    async def update(self, ad: Ad, data: AdUpdate) -> Ad:
        """Apply the fields of ``data`` that differ; publishes ``updated`` only when something did."""
        changes = data.changes()
        _check_dates(changes.get("starts_at", ad.starts_at), changes.get("ends_at", ad.ends_at))
        changed: list[str] = []
        for name in ("title", "text", "url", "image", "active", "weight", "starts_at", "ends_at"):
            if name in changes and changes[name] != getattr(ad, name):
                setattr(ad, name, changes[name])
                changed.append(name)
        for name in ("categories", "keywords"):
            if name in changes and changes[name] != getattr(ad, name):
                setattr(ad, f"{name}_text", " ".join(changes[name]))
                changed.append(name)
        if not changed:
            return ad
        ad.updated_at = utcnow()
        try:
            await self.repository.flush()
        except StaleDataError:
            raise ConflictError("The ad was changed by someone else meanwhile; fetch it again and retry.") from None
        await self._emit(AdUpdated(ad=ad_contract(ad), changed=sorted(changed)), ad.id)
        return ad

    async def delete(self, ad: Ad) -> None:
        ad_id, version = ad.id, ad.version
        await self.repository.delete(ad)
        await self._emit(AdDeleted(id=ad_id, version=version), ad_id)

    async def _emit(self, event: AdCreated | AdUpdated | AdDeleted, ad_id: str) -> None:
        await self.events.add(self.session, event, subject=ad_id, key=ad_id)
