"""Everything Pillow does for the media service: sniff, check, clean, re-encode, thumbnail, draw.

Pure functions over bytes (no I/O, no database), run by the service's decode pool
(:mod:`.decoding`). The order of the checks is the point:

1. the type comes from the first bytes (JPEG, PNG or WebP magic), never from the file name or
   the client's ``Content-Type``: an HTML or SVG file called ``cat.jpg`` is refused here;
2. the dimensions come from the header, before a single pixel is decoded (:func:`inspect`), so a
   100000x100000 PNG of a few kilobytes (a decompression bomb) is refused without allocating
   anything, and the decode pool knows what a decode will cost before it admits it;
3. ``verify()`` checks the structure, then one ``load()`` decodes everything, which is what
   notices a truncated file (``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False for that);
4. the picture is turned upright (EXIF orientation) and re-encoded from pixels alone, so EXIF
   (GPS position, camera serial), XMP, comments and anything appended after the image are gone.

Memory: a decoded picture costs about 4 bytes a pixel (a 6300x6300 PNG of 128 KB is 160 MB of
pixels), so the pipeline holds one full bitmap and never a copy of it: the orientation is applied
in place, and thumbnails are made from a ``reduce()``d picture (an integer box filter into a
bitmap 1/factor² the size) rather than from a copy of the whole. Where the full bitmap is not
needed at all, it is never decoded: a purpose with ``stored_side`` (avatars) keeps its original
scaled down to that side, and a JPEG is then decoded straight at 1/2, 1/4 or 1/8 scale
(``Image.draft``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFile, ImageFont, ImageOps, UnidentifiedImageError

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


def _open(data: bytes, kind: str) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=[FORMATS[kind][2]])


def inspect(data: bytes, limits: Limits) -> Header:
    """Sniffs ``data`` and checks its dimensions from the header alone (nothing is decoded)."""
    kind = sniff(data)
    if kind is None:
        raise ImageRejectedError("The file is not a JPEG, PNG or WebP image.", kind="type")
    try:
        with _open(data, kind) as header:
            width, height = header.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejectedError("The image has too many pixels.", kind="dimensions") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejectedError(f"The image is damaged or truncated ({type(exc).__name__}).", kind="damaged") from None
    if width < 1 or height < 1 or max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise ImageRejectedError(
            f"The image is {width}x{height} pixels; at most {limits.max_side} per side and "
            f"{limits.max_pixels} in all are accepted.",
            kind="dimensions",
        )
    return Header(kind, width, height)


def _decoded(data: bytes, kind: str, limits: Limits) -> Image.Image:
    """The verified, fully decoded first frame (at reduced scale where ``limits`` allow it)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - a guard against a global set elsewhere
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        with _open(data, kind) as header:
            header.verify()
        image = _open(data, kind)
        image.seek(0)  # the first frame of an animation
        if limits.stored_side is not None and kind == "jpeg":
            # the JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding, never below the size asked
            image.draft(image.mode, (limits.stored_side, limits.stored_side))
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejectedError("The image has too many pixels.", kind="dimensions") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # OSError "image file is truncated", SyntaxError from verify() on a broken structure
        raise ImageRejectedError(f"The image is damaged or truncated ({type(exc).__name__}).", kind="damaged") from None
    return image


def _encode(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    # exif=b"" and a cleared info: nothing of the upload's metadata is written back
    if kind == "jpeg":
        image.save(buffer, "JPEG", quality=90, optimize=True, exif=b"")
    elif kind == "png":
        image.save(buffer, "PNG", optimize=False, exif=b"")
    else:
        image.save(buffer, "WEBP", quality=85, method=2, exif=b"")
    return buffer.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.mode or (image.mode == "P" and "transparency" in image.info)


def _normal_mode(image: Image.Image, kind: str) -> Image.Image:
    has_alpha = _has_alpha(image)
    if kind == "jpeg":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if kind == "png":
        return image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA" if has_alpha else "RGB")
    return image if image.mode in ("RGB", "RGBA") else image.convert("RGBA" if has_alpha else "RGB")


#: Modes that ``reduce()`` and LANCZOS resampling take as they are (palette images would be
#: resampled NEAREST, 16-bit ones refused).
_RESAMPLED = ("RGB", "RGBA", "L", "LA")


def _fitted(image: Image.Image, box: int) -> Image.Image:
    """A new picture of ``image`` within ``box`` x ``box``, never upscaled, without copying ``image``.

    ``reduce(factor)`` first averages factor x factor blocks into a bitmap 1/factor² the size
    (leaving at least twice the target, as ``thumbnail``'s own ``reducing_gap`` does), and
    LANCZOS finishes from there: the result matches a LANCZOS thumbnail of the whole picture.
    """
    factor = int(max(image.size) / box / 2)
    working = image.reduce(factor) if factor > 1 else image.copy()
    working.thumbnail((box, box), Image.Resampling.LANCZOS)
    return working


def _scaled_to(image: Image.Image, side: int | None) -> Image.Image:
    return image if side is None or max(image.size) <= side else _fitted(image, side)


def thumbnails(image: Image.Image) -> dict[str, bytes]:
    source = image if image.mode in _RESAMPLED else image.convert("RGBA" if _has_alpha(image) else "RGB")
    out: dict[str, bytes] = {}
    for name, box in THUMBNAILS.items():
        thumbnail = _fitted(source, box)
        if thumbnail.mode not in ("RGB", "RGBA"):
            thumbnail = thumbnail.convert("RGBA" if "A" in thumbnail.mode else "RGB")
        buffer = io.BytesIO()
        thumbnail.save(buffer, "WEBP", quality=80, method=2)
        out[name] = buffer.getvalue()
    return out


def process(data: bytes, limits: Limits) -> ProcessedImage:
    """Checks ``data`` and returns the clean original and its thumbnails (CPU-bound: run in a worker)."""
    kind = inspect(data, limits).kind
    with _decoded(data, kind, limits) as image:
        ImageOps.exif_transpose(image, in_place=True)  # a copy of the whole bitmap otherwise
        return finish(_scaled_to(image, limits.stored_side), kind)


def finish(image: Image.Image, kind: str) -> ProcessedImage:
    """The clean original (encoded as ``kind``) and its thumbnails, from decoded pixels."""
    clean = _normal_mode(image, kind)
    clean.info.clear()
    content_type, extension, _ = FORMATS[kind]
    return ProcessedImage(
        kind=kind,
        content_type=content_type,
        extension=extension,
        width=clean.width,
        height=clean.height,
        original=_encode(clean, kind),
        thumbnails=thumbnails(clean),
    )


# --- the demo products' pictures -------------------------------------------------------------

_PALETTE = [
    (231, 76, 60),
    (52, 152, 219),
    (46, 204, 113),
    (155, 89, 182),
    (241, 196, 15),
    (230, 126, 34),
    (26, 188, 156),
    (52, 73, 94),
    (236, 64, 122),
    (121, 85, 72),
]
DEMO_SIDE = 400


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def draw_demo(*, name: str, category: str, key: str) -> Image.Image:
    """A deterministic picture for a demo product: its category's colour, a shape, its name.

    ``key`` (the product id) picks the shape and its place, so two products of a category differ.
    """
    category_digest = _digest(category)
    background = _PALETTE[category_digest[0] % len(_PALETTE)]
    digest = _digest(key)
    image = Image.new("RGB", (DEMO_SIDE, DEMO_SIDE), background)
    draw = ImageDraw.Draw(image)
    light = tuple(min(255, channel + 90) for channel in background)
    dark = tuple(max(0, channel - 70) for channel in background)
    size = 100 + digest[1] % 100  # leaves room around the shape and above the name band
    x = 40 + digest[2] % (DEMO_SIDE - size - 80)
    y = 40 + digest[3] % (DEMO_SIDE - size - 160)
    box = (x, y, x + size, y + size)
    shape = digest[0] % 3
    if shape == 0:
        draw.ellipse(box, fill=light, outline=dark, width=6)
    elif shape == 1:
        draw.rounded_rectangle(box, radius=size // 6, fill=light, outline=dark, width=6)
    else:
        draw.polygon([(x + size // 2, y), (x + size, y + size), (x, y + size)], fill=light, outline=dark)
    font = ImageFont.load_default(size=28)
    draw.rectangle((0, DEMO_SIDE - 96, DEMO_SIDE, DEMO_SIDE), fill=dark)
    words = name.split()
    lines = [" ".join(words[: (len(words) + 1) // 2]), " ".join(words[(len(words) + 1) // 2 :])]
    for index, line in enumerate(lines):
        draw.text((20, DEMO_SIDE - 88 + index * 38), line, fill=(255, 255, 255), font=font)
    return image


def demo_image(*, name: str, category: str, key: str) -> ProcessedImage:
    """A demo product's picture through the upload pipeline's encoding (JPEG + thumbnails).

    Drawn here, so the sniffing and decoding checks of :func:`process` have nothing to find.
    """
    return finish(draw_demo(name=name, category=category, key=key), "jpeg")


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
    "demo_image",
    "draw_demo",
    "finish",
    "inspect",
    "process",
    "sniff",
    "thumbnails",
]
