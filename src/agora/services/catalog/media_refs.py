"""A product's images that are media ids must name product images the media service holds.

Checked on create and update, only for requests whose ``images`` carry media ids (URLs and site
paths pass as before), with one call to media's port (``POST /api/media/lookup`` when distributed,
media's own lookup when embedded) as this service. An
id media does not know, or an avatar, is a 422 naming the entry; media unreachable is a 503, and
nothing is written either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from agora.contracts.http import HttpMedia
from agora.contracts.media import ImageLookup, is_media_id
from agora.contracts.ports import MediaPort
from agora.platform.errors import ServiceError, ServiceUnavailableError, UnprocessableError
from agora.platform.peers import port_of
from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)


def media_port(context: ServiceContext) -> MediaPort:
    """Media as the catalog calls it (as this service), the adapter chosen by mode."""
    return port_of(context, "media", MediaPort, HttpMedia)


async def check_media_refs(media: MediaPort, images: Sequence[str]) -> None:
    ids = list(dict.fromkeys(ref for ref in images if is_media_id(ref)))
    if not ids:
        return
    try:
        # claim: media keeps them from being deleted until this product's event reaches it
        found = await media.lookup(ImageLookup(ids=ids, claim=True))
    except ServiceError as exc:
        log.warning("media_unavailable", error=type(exc).__name__, status=exc.status)
        raise ServiceUnavailableError(
            "The media service cannot be reached to check the product's images; try again shortly.",
            field="body.images",
        ) from None
    purposes = {item.id: item.purpose for item in found.items}
    for index, ref in enumerate(images):
        if not is_media_id(ref):
            continue
        purpose = purposes.get(ref)
        if purpose != "product":
            detail = "is not a product image" if purpose else "is not an image the media service holds"
            raise UnprocessableError(f"images[{index}] {detail}: upload it first.", field=f"body.images.{index}")
