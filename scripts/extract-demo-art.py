"""Extracts the demo products' illustrations from Noto Color Emoji (Debian's fonts-noto-color-emoji).

Run once when the list changes (``python scripts/extract-demo-art.py``); the PNGs it writes are
committed under ``src/agora/services/media/demo_art/`` with the font's licence (SIL OFL 1.1), so
neither the media service nor its image needs the font. Each glyph is drawn by Pillow at the
font's only bitmap size (109 pt, 136 px) and cropped to its ink.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
OUT = Path(__file__).resolve().parents[1] / "src" / "agora" / "services" / "media" / "demo_art"

#: file name → the emoji drawn (the media service maps product kinds onto these names)
GLYPHS = {
    "running-shoe": "\U0001f45f",
    "hiking-boot": "\U0001f97e",
    "leather-shoe": "\U0001f45e",
    "flat-shoe": "\U0001f97f",
    "shirt": "\U0001f454",
    "sweater": "\U0001f45a",
    "coat": "\U0001f9e5",
    "trousers": "\U0001f456",
    "t-shirt": "\U0001f455",
    "skillet": "\U0001f373",
    "knife": "\U0001f52a",
    "coffee": "\u2615",
    "dinner-set": "\U0001f37d\ufe0f",
    "headphones": "\U0001f3a7",
    "speaker": "\U0001f4fb",
    "plug": "\U0001f50c",
    "keyboard": "\u2328\ufe0f",
    "lamp": "\U0001f4a1",
    "blanket": "\U0001f9e3",
    "candle": "\U0001f56f\ufe0f",
    "chair": "\U0001fa91",
    "tent": "\u26fa",
    "backpack": "\U0001f392",
    "sleeping-bag": "\U0001f6cc",
    "flashlight": "\U0001f526",
    "book": "\U0001f4d5",
    "notebook": "\U0001f4d4",
    "bird": "\U0001f426",
    "magnifier": "\U0001f50d",
    "compass": "\U0001f9ed",
    "chess": "\u265f\ufe0f",
    "puzzle": "\U0001f9e9",
    "train": "\U0001f682",
    "bricks": "\U0001f9f1",
    "lotion": "\U0001f9f4",
    "soap": "\U0001f9fc",
    "jar": "\U0001fad9",
    "bathtub": "\U0001f6c1",
    "yoga": "\U0001f9d8",
    "weights": "\U0001f3cb\ufe0f",
    "tennis": "\U0001f3be",
    "box": "\U0001f4e6",
}


def glyph(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((80, 80), text, font=font, embedded_color=True, anchor="mm")
    box = canvas.getbbox()
    if box is None:
        raise SystemExit(f"the font has no glyph for {text!r}")
    return canvas.crop(box)


def main() -> int:
    font = ImageFont.truetype(str(FONT), 109)
    OUT.mkdir(exist_ok=True)
    for name, text in GLYPHS.items():
        glyph(text, font).save(OUT / f"{name}.png", optimize=True)
    print(f"{len(GLYPHS)} pictures in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
