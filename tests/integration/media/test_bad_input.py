"""Hostile and malformed uploads: each is a 4xx problem naming the field, and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agora.platform.testing.auth import TokenFactory

from .conftest import API, MAX_UPLOAD, MIB, Media, bearer
from .images import HTML, SVG, picture, png_bomb, truncated_jpeg


def _problem(response: Any, status: int, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in [error["field"] for error in response.json().get("errors", [])], response.text


FILE_CASES: list[tuple[str, bytes, str, int, str]] = [
    ("html-renamed-jpg", HTML, "cat.jpg", 415, "file"),
    ("svg-renamed-jpg", SVG, "cat.jpg", 415, "file"),
    ("text", b"just some text, not an image at all", "notes.png", 415, "file"),
    ("png-claiming-100000x100000", png_bomb(), "bomb.png", 422, "file"),
    ("png-wider-than-max-side", png_bomb(12_000, 10), "wide.png", 422, "file"),
    ("truncated-jpeg", truncated_jpeg(), "half.jpg", 422, "file"),
    ("jpeg-magic-then-garbage", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "fake.jpg", 422, "file"),
    ("dotdot-filename", picture(32, 32, seed=90), "../../etc/passwd.jpg", 422, "file"),
    ("slash-filename", picture(32, 32, seed=91), "dir/cat.jpg", 422, "file"),
    ("backslash-filename", picture(32, 32, seed=92), "..\\cat.jpg", 422, "file"),
    ("control-char-filename", picture(32, 32, seed=93), "cat\x01.jpg", 422, "file"),
    ("empty-file", b"", "empty.jpg", 422, "file"),
]


@pytest.mark.parametrize(
    ("data", "filename", "status", "field"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
async def test_bad_file_is_refused_and_nothing_stored(
    media: Media, admin_token: str, data: bytes, filename: str, status: int, field: str
) -> None:
    before = await media.state()
    # the multipart body is written by hand: httpx would percent-encode odd characters in the name
    body = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nproduct\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
    headers = {**bearer(admin_token), "content-type": "multipart/form-data; boundary=b"}
    _problem(await media.client.post(f"{API}/images", content=body, headers=headers), status, field)
    assert await media.state() == before


async def test_a_50_mb_body_is_refused_without_being_buffered(media: Media, admin_token: str) -> None:
    before = await media.state()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        # a streamed (chunked) body: no Content-Length to refuse it by, it must be counted
        nonlocal sent
        boundary_head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n\xff\xd8\xff'
        yield boundary_head
        chunk = b"\x00" * (256 * 1024)
        for _ in range(200):  # 50 MiB
            sent += len(chunk)
            yield chunk

    response = await media.client.post(
        f"{API}/images",
        content=body(),
        headers={**bearer(admin_token), "content-type": "multipart/form-data; boundary=b"},
    )
    _problem(response, 413, None)
    # refused long before the end: past the limit the chassis reads (and drops) at most four
    # limits' worth so the client sees the 413 rather than a reset, then stops reading
    assert sent <= 4 * (MAX_UPLOAD + MIB), f"{sent} bytes were read before the refusal"
    assert await media.state() == before


async def test_a_declared_50_mb_body_is_refused_at_once(media: Media, admin_token: str) -> None:
    before = await media.state()
    response = await media.upload(admin_token, b"\xff\xd8\xff" + b"\x00" * (50 * MIB))
    _problem(response, 413, None)
    assert await media.state() == before


async def test_a_file_just_over_the_limit_is_a_413(media: Media, admin_token: str) -> None:
    before = await media.state()
    response = await media.upload(admin_token, b"\xff\xd8\xff" + b"\x00" * MAX_UPLOAD)
    _problem(response, 413, None)
    assert await media.state() == before


FORM_CASES: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("no-file", {"data": {"purpose": "product"}, "files": {"other": ("a.jpg", b"x")}}, 422, "file"),
    (
        "file-as-field",
        {"data": {"purpose": "product", "file": "not a file"}, "files": {"x": ("x.txt", b"x")}},
        422,
        "file",
    ),
    ("no-purpose", {"files": {"file": ("a.jpg", picture(16, 16, seed=94))}}, 422, "purpose"),
    (
        "bad-purpose",
        {"data": {"purpose": "banner"}, "files": {"file": ("a.jpg", picture(16, 16, seed=95))}},
        422,
        "purpose",
    ),
    (
        "unknown-field",
        {"data": {"purpose": "product", "caption": "x"}, "files": {"file": ("a.jpg", picture(16, 16, seed=96))}},
        422,
        "caption",
    ),
    ("json-body", {"json": {"purpose": "product"}}, 415, "file"),
    (
        "two-files",
        {"data": {"purpose": "product"}, "files": [("file", ("a.jpg", b"1")), ("file", ("b.jpg", b"2"))]},
        422,
        "file",
    ),
]


@pytest.mark.parametrize(("kwargs", "status", "field"), [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES])
async def test_bad_form_is_refused_and_nothing_stored(
    media: Media, admin_token: str, kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    before = await media.state()
    response = await media.client.post(f"{API}/images", headers=bearer(admin_token), **kwargs)
    _problem(response, status, field)
    assert await media.state() == before


async def test_anonymous_upload_is_a_401(media: Media) -> None:
    before = await media.state()
    response = await media.client.post(
        f"{API}/images", files={"file": ("a.jpg", picture(16, 16, seed=96))}, data={"purpose": "avatar"}
    )
    _problem(response, 401, None)
    assert await media.state() == before


async def test_a_customer_cannot_upload_a_product_image(media: Media, token_factory: TokenFactory) -> None:
    customer = token_factory(subject="customer-product", roles=("customer",))
    before = await media.state()
    _problem(await media.upload(customer, picture(16, 16, seed=97), purpose="product"), 403, "purpose")
    assert await media.state() == before


BAD_PATHS = [
    ("not-a-uuid", "/images/not-a-uuid", 422),
    ("traversal", "/images/..%2F..%2Fetc%2Fpasswd", 404),
    ("unknown", "/images/00000000-0000-4000-8000-000000000000", 404),
    ("unknown-thumbnail", "/images/00000000-0000-4000-8000-000000000000/thumbnail", 404),
    ("bad-size", "/images/00000000-0000-4000-8000-000000000000/thumbnail?size=huge", 422),
]


@pytest.mark.parametrize(("path", "status"), [c[1:] for c in BAD_PATHS], ids=[c[0] for c in BAD_PATHS])
async def test_bad_reads_are_problems(media: Media, path: str, status: int) -> None:
    _problem(await media.client.get(API + path), status, None)


async def test_the_document_describes_the_upload_as_it_is_read(media: Media) -> None:
    """Regression: the upload's body was missing from the OpenAPI document (read by hand, FastAPI
    could not see it), so clients and schemathesis sent it nothing."""
    document = (await media.client.get(f"{API}/openapi.json")).json()
    body = document["paths"]["/api/media/images"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert body["required"] is True
    assert schema["required"] == ["file", "purpose"] and schema["additionalProperties"] is False
    assert schema["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "A JPEG, PNG or WebP image.",
    }
    assert schema["properties"]["purpose"]["enum"] == ["product", "avatar"]
