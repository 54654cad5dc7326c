"""What the media service publishes to others: how an image is referenced and where it is served.

A product's ``images`` list holds references: a media id (a UUID the media service issued) or,
for old data, a URL or site path. :func:`image_url` turns any reference into something a page can
put in ``<img src>``; ids of the demo products' drawn images follow from the product id
(:func:`demo_image_id`), so the catalog seed can name them before the media service draws them.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal

from agora.contracts.base import Contract

#: A media id: a lower-case UUID, as the media service issues them.
MEDIA_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_MEDIA_ID = re.compile(MEDIA_ID_PATTERN)

#: Fixed forever: the demo images' ids are uuid5(namespace, product id).
DEMO_IMAGE_NAMESPACE = uuid.UUID("5b0c7d2e-7f43-4a8e-9a51-3d1f6c0b9e21")

#: The owner of images the platform made itself (the demo products' pictures).
SYSTEM_OWNER = "system"

IMAGES_PATH = "/api/media/images"

ImageSize = Literal["original", "small", "large"]
THUMBNAIL_SIZES: tuple[str, ...] = ("small", "large")


def is_media_id(ref: str) -> bool:
    """True when ``ref`` names an image of the media service (not a URL or a path)."""
    return bool(_MEDIA_ID.fullmatch(ref))


def demo_image_id(product_id: str) -> str:
    """The media id of a demo product's drawn image (deterministic, so the seed can name it)."""
    return str(uuid.uuid5(DEMO_IMAGE_NAMESPACE, product_id))


def image_url(ref: str, size: ImageSize = "original") -> str:
    """Where a page fetches ``ref``: a media id becomes its media URL; anything else is returned as is."""
    if not is_media_id(ref):
        return ref
    if size == "original":
        return f"{IMAGES_PATH}/{ref}"
    return f"{IMAGES_PATH}/{ref}/thumbnail?size={size}"


class ImageLookup(Contract):
    """``POST /api/media/lookup`` (service or admin): which of ``ids`` are images, and of which
    purpose; ``claim`` keeps the product images found from deletion until the caller's event
    about them arrives (the catalog, before it attaches them to a product)."""

    ids: list[str]
    claim: bool = False


class ImageRef(Contract):
    id: str
    purpose: Literal["product", "avatar"]


class ImageRefs(Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """The answer to an :class:`ImageLookup`: the ids media holds (unknown ids are left out)."""

    items: list[ImageRef]


__all__ = [
    "DEMO_IMAGE_NAMESPACE",
    "IMAGES_PATH",
    "MEDIA_ID_PATTERN",
    "SYSTEM_OWNER",
    "THUMBNAIL_SIZES",
    "ImageLookup",
    "ImageRef",
    "ImageRefs",
    "ImageSize",
    "demo_image_id",
    "image_url",
    "is_media_id",
]
