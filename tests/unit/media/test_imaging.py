"""The image pipeline on its own: sniffing, limits, cleaning, thumbnails, the demo drawings."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image, ImageFile

from agora.contracts.media import demo_image_id, image_url, is_media_id
from agora.services.media import formats, imaging
from tests.integration.media.images import HTML, SVG, exif_with_orientation_and_gps, picture, png_bomb, truncated_jpeg

LIMITS = formats.Limits(max_pixels=40_000_000, max_side=10_000)


def test_truncated_images_are_never_loaded_silently() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (picture(8, 8), "jpeg"),
        (picture(8, 8, fmt="PNG"), "png"),
        (picture(8, 8, fmt="WEBP"), "webp"),
        (HTML, None),
        (SVG, None),
        (b"GIF89a" + b"\x00" * 20, None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert formats.sniff(data) == kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (HTML, "type"),
        (png_bomb(), "dimensions"),
        (png_bomb(7000, 7000), "dimensions"),  # 49 MP: each side fits, the total does not
        (png_bomb(10_001, 1), "dimensions"),
        (truncated_jpeg(), "damaged"),
        (picture(64, 64, fmt="PNG")[:-20], "damaged"),
    ],
)
def test_refusals_say_why(data: bytes, kind: str) -> None:
    with pytest.raises(formats.ImageRejectedError) as refused:
        imaging.process(data, LIMITS)
    assert refused.value.kind == kind


def test_exif_is_applied_then_dropped() -> None:
    processed = imaging.process(picture(300, 200, exif=exif_with_orientation_and_gps()), LIMITS)
    assert (processed.width, processed.height) == (200, 300)
    with Image.open(io.BytesIO(processed.original)) as image:
        assert dict(image.getexif()) == {}
    assert b"SecretCam" not in processed.original


def test_bytes_appended_after_the_image_are_dropped() -> None:
    smuggled = picture(50, 50, fmt="PNG") + b"<script>alert(1)</script>"
    assert b"<script>" not in imaging.process(smuggled, LIMITS).original


def test_processing_is_deterministic() -> None:
    data = picture(200, 100, seed=5, fmt="WEBP")
    assert imaging.process(data, LIMITS) == imaging.process(data, LIMITS)


def test_demo_drawings_differ_per_product_and_fit_every_name() -> None:
    hashes = set()
    for index in range(40):
        data = imaging.draw_demo(
            name=f"Brand{index} Extraordinarily Long Adjective Product Noun",
            category=f"c{index % 10}",
            key=str(uuid.uuid4()),
        )
        hashes.add(data.tobytes())
    assert len(hashes) == 40
    again = imaging.demo_image(name="Same", category="shoes", key="p-1")
    assert again == imaging.demo_image(name="Same", category="shoes", key="p-1")
    assert again.content_type == "image/jpeg"


def test_media_references() -> None:
    media_id = demo_image_id("some-product")
    assert media_id == demo_image_id("some-product") != demo_image_id("another-product")
    assert is_media_id(media_id)
    assert not is_media_id("/api/catalog/placeholders/shoes/boot.svg")
    assert not is_media_id(media_id.upper())
    assert image_url(media_id) == f"/api/media/images/{media_id}"
    assert image_url(media_id, "small") == f"/api/media/images/{media_id}/thumbnail?size=small"
    assert image_url("https://cdn.example.com/a.jpg", "large") == "https://cdn.example.com/a.jpg"


def test_an_avatar_jpeg_is_decoded_at_reduced_scale_and_kept_at_its_side() -> None:
    data = picture(4000, 3000, seed=5)
    avatar = formats.Limits(max_pixels=16_000_000, max_side=8192, stored_side=1024)
    with imaging._decoded(data, "jpeg", avatar) as decoded:
        assert decoded.size == (2000, 1500)  # half scale from the decoder: a quarter of the pixels
    processed = imaging.process(data, avatar)
    assert (processed.width, processed.height) == (1024, 768)
    assert imaging.process(data, LIMITS).width == 4000  # a product image is kept whole


@pytest.mark.parametrize("size", [(6300, 4200), (1001, 333), (5000, 7), (961, 961), (480, 100), (100, 50)])
def test_thumbnails_from_a_reduced_picture_have_the_thumbnail_sizes(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (10, 20, 30))
    made = imaging.thumbnails(image)
    for name, box in formats.THUMBNAILS.items():
        expected = image.copy()
        expected.thumbnail((box, box), Image.Resampling.LANCZOS)
        with Image.open(io.BytesIO(made[name])) as thumbnail:
            assert thumbnail.size == expected.size


def test_the_decode_cost_comes_from_the_header_and_weighs_webp() -> None:
    png = imaging.inspect(png_bomb(6300, 6300), LIMITS)  # a few hundred bytes: nothing decoded
    assert (png.kind, png.width, png.height, png.decode_cost) == ("png", 6300, 6300, 6300 * 6300)
    webp = imaging.inspect(picture(300, 200, fmt="WEBP"), LIMITS)
    assert webp.decode_cost == 4 * 300 * 200


def _main_colour(image: Image.Image) -> tuple[float, float, float]:
    """The mean colour of the picture's coloured pixels (the product; the backdrop is pale)."""
    rgb = image.convert("RGB")
    saturation = rgb.convert("HSV").getchannel("S")
    pixels = [p for p, s in zip(rgb.get_flattened_data(), saturation.get_flattened_data(), strict=True) if s > 90]
    assert len(pixels) > 2000, "the picture shows no coloured product"
    return tuple(sum(channel) / len(pixels) for channel in zip(*pixels, strict=True))  # type: ignore[return-value]


def test_a_demo_picture_shows_the_product_in_its_stated_colour() -> None:
    """Issue 17: a sweater described as "Colour: Forest" was drawn red; now it is green."""
    forest = _main_colour(
        imaging.draw_demo(name="Halden Metro Merino Sweater", category="apparel", key="k", colour="Forest")
    )
    rust = _main_colour(
        imaging.draw_demo(name="Halden Metro Merino Sweater", category="apparel", key="k", colour="Rust")
    )
    assert forest[1] > forest[0] and forest[1] > forest[2], f"Forest is drawn {forest}"
    assert rust[0] > rust[1] and rust[0] > rust[2], f"Rust is drawn {rust}"
    # what the name says it is picks the illustration: a shoe and a tent do not look alike
    shoe = imaging.draw_demo(name="Northwind Metro Running Shoe", category="footwear", key="k", colour="Navy")
    tent = imaging.draw_demo(name="Northwind Metro Two-Person Tent", category="footwear", key="k", colour="Navy")
    assert shoe.tobytes() != tent.tobytes()
