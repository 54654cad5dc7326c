"""Test images made with Pillow at test time (and a few hostile files made by hand)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def picture(
    width: int = 640, height: int = 480, *, fmt: str = "JPEG", seed: int = 0, exif: bytes | None = None
) -> bytes:
    """A picture with a gradient and a block (so thumbnails are not blank); ``seed`` changes the bytes."""
    image = Image.new("RGB", (width, height), (seed % 256, 90, 160))
    for x in range(0, width, max(width // 16, 1)):
        image.paste((255, (x + seed) % 256, 40), (x, 0, min(x + 8, width), height))
    buffer = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_with_orientation_and_gps() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to show upright
    exif[0x010F] = "SecretCam"  # make
    exif[0x8825] = {2: (52.0, 31.0, 12.0)}  # GPS IFD: latitude
    return exif.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG whose header claims ``width`` x ``height`` pixels, a few hundred bytes long."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * 64
    data = zlib.compress(row * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = picture(800, 600, seed=7)
    return whole[: len(whole) // 2]


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
