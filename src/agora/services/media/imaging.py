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

import functools
import hashlib
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from agora.services.media.formats import (
    DEMO_SIDE,
    FORMATS,
    THUMBNAILS,
    Header,
    ImageRejectedError,
    Limits,
    ProcessedImage,
    sniff,
)


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

#: the illustrations (PNGs cut from Noto Color Emoji, SIL OFL 1.1: see demo_art/README.md)
_ART = Path(__file__).parent / "demo_art"

#: what a product's name says it is → (illustration, small emblem beside it or None); first match
_KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("dumbbell", "weights", None),  # before "train": an "Ironleaf Training Adjustable Dumbbell"
    ("yoga", "yoga", None),
    ("racket", "tennis", None),
    ("running shoe", "running-shoe", None),
    ("hiking boot", "hiking-boot", None),
    ("sneaker", "leather-shoe", None),
    ("loafer", "flat-shoe", None),
    ("shirt", "shirt", None),
    ("sweater", "sweater", None),
    ("jacket", "coat", None),
    ("trouser", "trousers", None),
    ("jersey", "t-shirt", None),
    ("skillet", "skillet", None),
    ("knife", "knife", None),
    ("coffee", "coffee", None),
    ("dinner", "dinner-set", None),
    ("headphone", "headphones", None),
    ("speaker", "speaker", None),
    ("charger", "plug", None),
    ("keyboard", "keyboard", None),
    ("headlamp", "flashlight", None),
    ("lamp", "lamp", None),
    ("blanket", "blanket", None),
    ("candle", "candle", None),
    ("side table", "chair", None),
    ("tent", "tent", None),
    ("daypack", "backpack", None),
    ("backpack", "backpack", None),
    ("sleeping bag", "sleeping-bag", None),
    ("cookbook", "book", "skillet"),
    ("birds", "book", "bird"),
    ("mystery", "book", "magnifier"),
    ("journal", "notebook", "compass"),
    ("board game", "chess", None),
    ("puzzle", "puzzle", None),
    ("train", "train", None),
    ("blocks", "bricks", None),
    ("moisturiser", "lotion", None),
    ("shampoo", "soap", None),
    ("oil", "jar", None),
    ("bath", "bathtub", None),
)
_FALLBACK = "box"

#: the demo catalog's colours (and books' editions, beauty's scents) as RGB; a colour not listed
#: (or "Rainbow") keeps the illustration's own colours
COLOURS: dict[str, tuple[int, int, int]] = {
    "slate": (96, 112, 128), "sand": (201, 178, 128), "black": (48, 48, 52), "olive": (107, 112, 40),
    "navy": (31, 46, 100), "chestnut": (149, 69, 53), "indigo": (63, 72, 170), "heather grey": (150, 150, 155),
    "forest": (34, 105, 56), "oatmeal": (214, 198, 165), "charcoal": (60, 68, 76), "rust": (183, 72, 24),
    "matte black": (44, 44, 46), "cream": (238, 226, 196), "sage": (150, 172, 130), "cobalt": (0, 71, 171),
    "terracotta": (204, 98, 70), "steel": (128, 138, 150), "graphite": (70, 70, 76), "silver": (190, 192, 196),
    "white": (240, 240, 240), "midnight": (28, 30, 84), "sky blue": (100, 175, 230), "natural": (205, 178, 135),
    "ivory": (245, 238, 215), "moss": (128, 146, 80), "clay": (182, 106, 80), "ink": (32, 42, 74),
    "fog": (196, 202, 208), "orange": (240, 120, 30), "moss green": (96, 128, 58), "stone": (150, 144, 132),
    "glacier blue": (120, 180, 215), "desert": (208, 166, 106), "clothbound": (128, 40, 52),
    "paperback": (232, 170, 60), "hardcover": (30, 72, 124), "special edition": (112, 44, 134),
    "large print": (30, 122, 92), "boxed": (96, 64, 44), "natural wood": (190, 140, 90), "pastel": (238, 170, 196),
    "primary": (214, 40, 40), "ocean": (20, 110, 160), "unscented": (228, 228, 222), "lavender": (160, 128, 206),
    "cedar": (150, 90, 60), "citrus": (245, 180, 40), "rose": (226, 104, 138), "eucalyptus": (100, 166, 146),
    "volt": (196, 226, 40), "coral": (255, 120, 100), "storm grey": (104, 110, 122), "royal blue": (48, 80, 200),
}  # fmt: skip


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@functools.cache
def _art(name: str) -> Image.Image:
    with Image.open(_ART / f"{name}.png") as opened:
        return opened.convert("RGBA")


def _kind(name: str) -> tuple[str, str | None]:
    lowered = name.lower()
    for words, art, emblem in _KINDS:
        if words in lowered:
            return art, emblem
    return _FALLBACK, None


def _mix(colour: tuple[int, int, int], other: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    r, g, b = (round(a * (1 - share) + o * share) for a, o in zip(colour, other, strict=True))
    return (r, g, b)


def _in_colour(art: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The illustration with its coloured parts in ``colour``, shading kept; whites, greys and
    blacks (soles, laces, metal) stay as drawn."""
    rgb = art.convert("RGB")
    shaded = ImageOps.colorize(
        ImageOps.autocontrast(rgb.convert("L"), cutoff=1),
        black=_mix(colour, (0, 0, 0), 0.55),
        mid=colour,
        white=_mix(colour, (255, 255, 255), 0.45),
    )
    saturated = rgb.convert("HSV").getchannel("S").point(lambda s: 255 if s > 40 else 0).filter(ImageFilter.BoxBlur(1))
    recoloured = Image.composite(shaded, rgb, saturated)
    recoloured.putalpha(art.getchannel("A"))
    return recoloured


def draw_demo(*, name: str, category: str, key: str, colour: str | None = None) -> Image.Image:
    """A deterministic picture of a demo product: what its name says it is (a running shoe, a
    tent, a cookbook), in its stated ``colour`` when it has one, on a soft background; no text.

    ``key`` (the product id) turns, sizes and places it a little differently for each product, so
    two products of a kind differ; ``category`` tints the background of a product with no colour.
    """
    digest = _digest(key)
    wanted = COLOURS.get((colour or "").strip().lower())
    art_name, emblem = _kind(name)
    art = _art(art_name)
    if wanted is not None:
        art = _in_colour(art, wanted)
    tone = wanted or (lambda d: (150 + d[0] % 90, 150 + d[1] % 90, 150 + d[2] % 90))(_digest(category))
    light = sum(tone) / 3 > 190  # a white or cream product needs a darker backdrop to be seen
    top = _mix(tone, (70, 78, 90) if light else (255, 255, 255), 0.55 if light else 0.88)
    bottom = _mix(top, (0, 0, 0), 0.08)
    image = Image.linear_gradient("L").resize((DEMO_SIDE, DEMO_SIDE))
    image = ImageOps.colorize(image, black=top, white=bottom)
    draw = ImageDraw.Draw(image)
    size = 250 + digest[0] % 50  # the illustrations are ~136 px: drawn larger, they stay smooth
    # turned while small, then enlarged: a fifth of the pixels to turn (the start-up draws 240)
    turned = art.rotate((digest[1] % 13) - 6, resample=Image.Resampling.BICUBIC, expand=True)
    factor = size / max(art.size)
    scaled = turned.resize((round(turned.width * factor), round(turned.height * factor)), Image.Resampling.BICUBIC)
    x = (DEMO_SIDE - scaled.width) // 2 + (digest[2] % 25) - 12
    y = (DEMO_SIDE - scaled.height) // 2 + (digest[3] % 17) - 14
    shadow = _mix(bottom, (0, 0, 0), 0.18)
    draw.ellipse(
        (x + scaled.width * 0.12, y + scaled.height - 10, x + scaled.width * 0.88, y + scaled.height + 16), fill=shadow
    )
    image.paste(scaled, (x, y), scaled)
    if emblem is not None:
        badge = _art(emblem).copy()
        badge.thumbnail((120, 120), Image.Resampling.LANCZOS)
        draw.ellipse((DEMO_SIDE - 158, DEMO_SIDE - 158, DEMO_SIDE - 18, DEMO_SIDE - 18), fill=(255, 255, 255))
        image.paste(badge, (DEMO_SIDE - 88 - badge.width // 2, DEMO_SIDE - 88 - badge.height // 2), badge)
    return image


def demo_image(*, name: str, category: str, key: str, colour: str | None = None) -> ProcessedImage:
    """A demo product's picture through the upload pipeline's encoding (JPEG + thumbnails).

    Drawn here, so the sniffing and decoding checks of :func:`process` have nothing to find.
    """
    return finish(draw_demo(name=name, category=category, key=key, colour=colour), "jpeg")


__all__ = ["demo_image", "draw_demo", "finish", "inspect", "process", "thumbnails"]
