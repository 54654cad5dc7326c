"""The media service's HTTP routes under ``/api/media``: parse, call the service, shape the response.

Uploads are read by hand rather than through FastAPI's ``UploadFile`` parameters: the body is
counted while it streams in and the request is refused with 413 the moment it passes the limit,
so a 50 MB body is never buffered; the client's file name is checked (it could be a path) and
otherwise ignored. Images are served with their content hash as a strong ETag, cached for a
year (the bytes behind an id never change) and ``nosniff``; on S3 with presigning on, the
service answers with a 302 to a short-lived presigned URL instead.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import RedirectResponse, Response

from agora.contracts.media import MEDIA_ID_PATTERN
from agora.platform.errors import UnprocessableError
from agora.platform.http.deps import Cursors, reader, writer
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import require_json
from agora.platform.http.responses import json_response, page_response
from agora.platform.ratelimit import RateLimited
from agora.services.media import metrics, schemas
from agora.services.media.auth import CurrentSubject, OptionalSubject, ServiceOrAdmin
from agora.services.media.models import Image
from agora.services.media.runtime import MediaRuntime, Runtime
from agora.services.media.service import (
    PURPOSES,
    ForbiddenError,
    MediaService,
    PayloadTooLargeError,
    UnsupportedImageError,
    image_document,
    original_name,
)
from agora.services.media.settings import MediaSettings
from agora.services.media.storage import CACHE_CONTROL, object_key

PREFIX = "/api/media"
MAX_FILENAME = 255
#: A file name is only ever checked: path separators, "..", control characters are refused.
_BAD_FILENAME = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.")

UPLOAD_DESCRIPTION = """\
Multipart form: `file` (a JPEG, PNG or WebP image; the type is read from the bytes) and
`purpose` (`product`, admins only, or `avatar`, any signed-in user, who becomes its owner).
201 with the image; the same bytes uploaded again for the same purpose and owner answer 200 with
the image already stored. 413 past the size limit or the caller's quota of images or bytes for
the purpose (`quota` says which), 415 for anything but the three image types, 422 for a damaged
or truncated image, too many pixels for the purpose, or a file name that is a path. 429 with
`Retry-After` past the caller's upload rate; 503 with `Retry-After` while the decode queue is full.
"""
#: The body :func:`read_upload` parses, as the document states it (the route takes no FastAPI
#: body parameter, so FastAPI cannot describe it): what a JSON schema can say of a file, its
#: bytes being an image, is up to the decoder (415, 422).
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "A JPEG, PNG or WebP image."},
                    "purpose": {"type": "string", "enum": list(PURPOSES)},
                },
                "additionalProperties": False,
            },
            "encoding": {"file": {"contentType": "image/jpeg, image/png, image/webp"}},
        }
    },
}


Reader = Annotated[MediaService, Depends(reader(MediaRuntime, MediaRuntime.service))]
Writer = Annotated[MediaService, Depends(writer(MediaRuntime, MediaRuntime.service))]
ImageId = Annotated[str, Path(pattern=MEDIA_ID_PATTERN, description="The image's id (a UUID).")]


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLargeError(f"The upload is larger than the limit of {limit} bytes.", field="file")
        yield chunk


async def read_upload(request: Request, settings: MediaSettings) -> tuple[bytes, str]:
    """(file bytes, purpose) from the multipart body, refusing it as soon as it is too big."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedImageError("Send the image as multipart/form-data with a `file` field.", field="file")
    limit = settings.upload_body_limit
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The upload is larger than the limit of {limit} bytes.", field="file")
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=1, max_fields=2, max_part_size=1024)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise UnprocessableError(f"The multipart body is malformed: {exc.message}", field="file") from None
    try:
        purpose = form.get("purpose")
        if not isinstance(purpose, str) or purpose not in PURPOSES:
            raise UnprocessableError("purpose must be `product` or `avatar`.", field="purpose")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UnprocessableError("The form needs a `file` field holding the image.", field="file")
        unknown = sorted(set(form.keys()) - {"file", "purpose"})
        if unknown:
            raise UnprocessableError("The form takes only `file` and `purpose`.", field=unknown[0])
        name = upload.filename or ""
        if len(name) > MAX_FILENAME or _BAD_FILENAME.search(name):
            raise UnprocessableError("The file name must be a plain name, not a path.", field="file")
        data = await upload.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise PayloadTooLargeError(
                f"The image is larger than the limit of {settings.max_upload_bytes} bytes.", field="file"
            )
        if not data:
            raise UnprocessableError("The file is empty.", field="file")
        return data, purpose
    finally:
        await form.close()


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = (part.strip().removeprefix("W/") for part in if_none_match.split(","))
    return if_none_match.strip() == "*" or etag in candidates


async def serve_object(request: Request, runtime: MediaRuntime, image: Image, name: str, content_type: str) -> Response:
    """The object's bytes (or 304, or a 302 to a presigned URL on S3), with the serving headers."""
    etag = f'"{image.sha256}"' if name.startswith("original") else f'"{image.sha256}-{name.split(".")[0]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    settings, store = runtime.settings, runtime.store
    key = object_key(image.sha256, name)
    if settings.s3_presign:
        url = await store.presigned_url(key, expires_in=settings.s3_presign_seconds, content_type=content_type)
        if url is not None:
            # the redirect must not outlive the signature; the object behind it is cached for a year
            cache = f"private, max-age={max(settings.s3_presign_seconds - 60, 0)}"
            return RedirectResponse(url, status_code=302, headers={"Cache-Control": cache})
    data = await store.get(key)
    if data is None:
        raise UnprocessableError("The image's bytes are missing from the store.", field="image_id")
    return Response(data, media_type=content_type, headers=headers)


async def _take_upload_slot(runtime: MediaRuntime, user_id: str) -> None:
    """One of the caller's uploads in the moving window, taken before a byte of the body is read."""
    settings = runtime.settings
    retry_after = await runtime.upload_rate.get().hit(
        user_id, unavailable="Uploading images is unavailable for a moment; try again shortly."
    )
    if retry_after is not None:
        metrics.uploads_total.labels("rate_limited").inc()
        raise RateLimited(
            f"At most {settings.upload_rate} uploads in {settings.upload_rate_window_seconds} s; "
            f"try again in {retry_after} s.",
            retry_after,
            limit="uploads",
        )


router = APIRouter(prefix=PREFIX, tags=["media"])


@router.post(
    "/images",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": schemas.ImageOut},
        200: {"model": schemas.ImageOut},
        401: {},
        403: {},
        413: {},
        415: {},
        422: {},
        429: {},
        503: {},
    },
    summary="Upload an image (multipart: file, purpose)",
    description=UPLOAD_DESCRIPTION,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload(request: Request, runtime: Runtime, subject: CurrentSubject, service: Writer) -> Response:
    await _take_upload_slot(runtime, subject.id)
    try:
        data, purpose = await read_upload(request, runtime.settings)
    except PayloadTooLargeError:
        metrics.uploads_total.labels("too_large").inc()
        raise
    except (UnprocessableError, UnsupportedImageError):
        metrics.uploads_total.labels("bad_request").inc()
        raise
    if purpose == "product" and not subject.has_role("admin"):
        metrics.uploads_total.labels("forbidden").inc()
        raise ForbiddenError("Only admins upload product images.", field="purpose")
    image, created = await service.upload(data, purpose=purpose, owner_id=subject.id)
    headers = {"Location": f"{PREFIX}/images/{image.id}/meta"}
    return json_response(image_document(image), status_code=201 if created else 200, headers=headers)


@router.get(
    "/images",
    response_model=None,
    responses={200: {"model": schemas.ImagePage}, 400: {}, 401: {}, 422: {}},
    summary="Images, newest first (your own; admins see everyone's unless owner=me)",
)
async def list_images(
    subject: CurrentSubject,
    service: Reader,
    cursors: Cursors,
    purpose: Annotated[schemas.Purpose | None, Query(description="product or avatar")] = None,
    owner: Annotated[Literal["me"] | None, Query(description="`me`: only the caller's images")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    page = await service.list_images(
        subject,
        purpose=purpose,
        mine=owner == "me",
        limit=limit,
        cursor=cursor,
        cursors=cursors,
    )
    return page_response(page, image_document)


@router.post(
    "/lookup",
    response_model=None,
    responses={200: {"model": schemas.LookupOut}, 401: {}, 403: {}, 422: {}},
    summary="Which of these ids are images, and of which purpose (services and admins)",
    description="With `claim: true` (the catalog, before attaching them to a product) the product images "
    "found cannot be deleted until the product's event arrives (at most `AGORA_MEDIA_CLAIM_SECONDS`).",
)
async def lookup(
    service: Writer,
    _caller: ServiceOrAdmin,
    body: schemas.LookupIn,
    _json_body: Annotated[None, Depends(require_json)],
) -> Response:
    images = await service.lookup(list(body.ids), claim=body.claim)
    return json_response({"items": [{"id": image.id, "purpose": image.purpose} for image in images]})


@router.get(
    "/images/{image_id}",
    response_model=None,
    responses={200: {"content": {"image/*": {}}}, 302: {}, 304: {}, 404: {}},
    summary="The image's bytes (or a 302 to a presigned URL when stored on S3)",
)
async def original(request: Request, runtime: Runtime, service: Reader, image_id: ImageId) -> Response:
    image = await service.get(image_id)
    return await serve_object(request, runtime, image, original_name(image), image.content_type)


@router.get(
    "/images/{image_id}/thumbnail",
    response_model=None,
    responses={200: {"content": {"image/webp": {}}}, 302: {}, 304: {}, 404: {}, 422: {}},
    summary="A WebP thumbnail: small (160 px box) or large (480 px box)",
)
async def thumbnail(
    request: Request,
    runtime: Runtime,
    service: Reader,
    image_id: ImageId,
    size: Annotated[Literal["small", "large"], Query(description="small or large")] = "small",
) -> Response:
    image = await service.get(image_id)
    return await serve_object(request, runtime, image, f"{size}.webp", "image/webp")


@router.get(
    "/images/{image_id}/meta",
    response_model=None,
    responses={200: {"model": schemas.ImageOut}, 404: {}},
    summary="The image's metadata (an avatar only for its owner, admins and services)",
)
async def meta(service: Reader, subject: OptionalSubject, image_id: ImageId) -> Response:
    image = await service.visible(image_id, subject)
    return json_response(image_document(image), headers={"Cache-Control": "no-store"})


@router.delete(
    "/images/{image_id}",
    status_code=204,
    response_model=None,
    responses={204: {}, 401: {}, 404: {}, 409: {}},
    summary="Delete an image (its owner or an admin; 409 while a product shows it)",
)
async def delete(service: Writer, subject: CurrentSubject, image_id: ImageId) -> Response:
    await service.delete(image_id, subject)
    return Response(status_code=204)


__all__: list[Any] = ["PREFIX", "read_upload", "router"]
