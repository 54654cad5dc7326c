"""What the media service knows of images without Pillow: the kinds it accepts, the limits it
checks, what a processed image is, and the sniffing of magic bytes.

:mod:`.imaging` does the pixel work with Pillow (~3 MiB resident, imported on the first upload);
this module is all the serving process needs until then, and what the demo pictures drawn in
:mod:`.artist`'s child process come back as.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Bounding boxes of the thumbnails (WebP), by size name.
THUMBNAILS: dict[str, int] = {"small": 160, "large": 480}

#: (content type, file extension, Pillow format) by sniffed kind.
FORMATS: dict[str, tuple[str, str, str]] = {
    "jpeg": ("image/jpeg", "jpg", "JPEG"),
    "png": ("image/png", "png", "PNG"),
    "webp": ("image/webp", "webp", "WEBP"),
}
THUMBNAIL_TYPE = "image/webp"

#: What decoding and re-encoding one pixel costs, in units of a JPEG's or PNG's (about 4 bytes
#: of bitmap). libwebp decodes through two RGBA canvases of its own besides Pillow's bitmap, and
#: its encoder holds another copy: measured, a 40 MP WebP took a process 667 MB above where it
#: started against 169 MB for a 40 MP PNG.
DECODE_WEIGHT: dict[str, int] = {"jpeg": 1, "png": 1, "webp": 4}


class ImageRejectedError(ValueError):
    """The bytes are not an image we accept; ``kind`` says why (for metrics and the problem)."""

    def __init__(self, detail: str, *, kind: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    """What one purpose accepts: the header's dimensions, and the side its original is kept at."""

    max_pixels: int
    max_side: int
    stored_side: int | None = None
    """Originals larger than this are scaled down to fit (None: kept as uploaded)."""


@dataclass(frozen=True)
class Header:
    """What the first bytes say, before any pixel is decoded."""

    kind: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decode_cost(self) -> int:
        """What decoding it costs against the decode pool's budget (pixels, weighted by format)."""
        return self.pixels * DECODE_WEIGHT[self.kind]


#: The side of a demo product's (square) picture.
DEMO_SIDE = 400


@dataclass(frozen=True)
class ProcessedImage:
    kind: str
    content_type: str
    extension: str
    width: int
    height: int
    original: bytes
    thumbnails: dict[str, bytes]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.original).hexdigest()

    @property
    def stored_bytes(self) -> int:
        """The original and its thumbnails: what the image takes in the store (and its owner's quota)."""
        return len(self.original) + sum(len(data) for data in self.thumbnails.values())


def sniff(data: bytes) -> str | None:
    """The image kind from its magic bytes, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


__all__ = [
    "DECODE_WEIGHT",
    "DEMO_SIDE",
    "FORMATS",
    "THUMBNAILS",
    "THUMBNAIL_TYPE",
    "Header",
    "ImageRejectedError",
    "Limits",
    "ProcessedImage",
    "sniff",
]
