"""Reactions to the catalog's events: which images each product shows, and the demo pictures.

* ``catalog.product.created`` / ``updated``: the product's media ids are recorded (newest version
  wins), so ``DELETE`` of an image a product shows is refused; a demo product (``demo=True``)
  whose images name its :func:`~agora.contracts.media.demo_image_id` gets that image drawn and
  stored through the same pipeline as an upload (owner ``system``, purpose ``product``);
* ``catalog.product.deleted``: the product shows nothing any more.

Each runs in the consumer's inbox transaction, so a redelivered envelope changes nothing; the
drawing is skipped when the image row exists, and its objects are keyed by content hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.contracts.catalog import (
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    Product,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
)
from agora.contracts.media import demo_image_id, is_media_id
from agora.platform.messaging import Consumer, Envelope
from agora.services.media.runtime import media_runtime
from agora.services.media.service import MediaService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agora.platform.service import ServiceContext

#: The consumer group (and inbox name) of media.
CONSUMER = "media"


#: "Colour: Forest." in a demo product's description (books state their edition instead)
_STATED_COLOUR = re.compile(r"\b(?:Colou?r|Edition): ([A-Za-z][A-Za-z ]{0,30})\.")


def stated_colour(description: str) -> str | None:
    """The colour a product's description states, so its demo picture shows that colour."""
    found = _STATED_COLOUR.search(description)
    return found.group(1) if found else None


def consumers(context: ServiceContext) -> Iterable[Consumer]:
    consumer = Consumer(CONSUMER, context.sessions, context.transport)

    def service(session: AsyncSession) -> MediaService:
        return media_runtime(context).service(session)

    async def record(session: AsyncSession, product: Product, *, demo: bool) -> None:
        media = service(session)
        media_ids = [ref for ref in product.images if is_media_id(ref)]
        if not await media.record_product(product.id, product.version, media_ids):
            return
        image_id = demo_image_id(product.id)
        if demo and image_id in product.images:
            await media.ensure_demo_image(
                image_id,
                name=product.name,
                category=product.category.slug,
                product_id=product.id,
                colour=stated_colour(product.description),
            )

    async def product_created(session: AsyncSession, envelope: Envelope) -> None:
        event = ProductCreated.model_validate(envelope.data)
        await record(session, event.product, demo=event.demo)

    async def product_updated(session: AsyncSession, envelope: Envelope) -> None:
        await record(session, ProductUpdated.model_validate(envelope.data).product, demo=False)

    async def product_deleted(session: AsyncSession, envelope: Envelope) -> None:
        event = ProductDeleted.model_validate(envelope.data)
        await service(session).forget_product(event.id, event.version)

    consumer.on(PRODUCT_CREATED, product_created)
    consumer.on(PRODUCT_UPDATED, product_updated)
    consumer.on(PRODUCT_DELETED, product_deleted)
    return (consumer,)
