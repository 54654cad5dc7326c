"""The ads' HTTP routes under ``/api/ads``: parse, call the service, shape the response.

``GET /api/ads`` is public and hot (every product page asks it), so its answer is kept in the
read cache per (category, keyword stems, limit) for ``read_cache_ttl`` seconds (5 by default);
an admin's change clears the cache once its transaction has committed. The admin routes
(``/all``, ``/{id}``, writes) always read the database.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import Response

from agora.platform.errors import PreconditionFailedError, UnprocessableError
from agora.platform.http.deps import Cursors, JsonBody, ReadCache, ReadSessions, reader, writer
from agora.platform.http.etag import EncodedJson
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.responses import json_response, page_response
from agora.services.ads import schemas
from agora.services.ads.auth import Admin
from agora.services.ads.matching import split_keywords, stems
from agora.services.ads.metrics import ads_served_total
from agora.services.ads.models import KEYWORD_LENGTH
from agora.services.ads.models import Ad as AdRow
from agora.services.ads.runtime import AdsRuntime, Runtime
from agora.services.ads.service import AdsService, ad_document, etag

PREFIX = "/api/ads"
MAX_KEYWORDS_TEXT = 500
MAX_PAGE_KEYWORDS = 12
_WORD = rf"[^\s,]{{1,{KEYWORD_LENGTH}}}"
#: what _parse_keywords accepts, for the document: up to 12 words of up to 40 characters
KEYWORDS_PATTERN = rf"^[\s,]*(?:{_WORD}(?:[\s,]+{_WORD}){{0,{MAX_PAGE_KEYWORDS - 1}}})?[\s,]*$"
MAX_SERVED = 10
DEFAULT_SERVED = 3

SERVE_DESCRIPTION = f"""\
The ads for a page, best first: `{{"items": [{{id, title, text, url, image, reason}}]}}`.

`category` is the page's category slug; `keywords` up to {MAX_PAGE_KEYWORDS} words separated by
blanks or commas (the product's tags, words of its name). Words are lower-cased and stemmed
(`boots` meets `boot`). Only active ads inside their `starts_at`/`ends_at` window are served.
An ad is relevant when it targets the category or shares a keyword; relevant ads rank by
score (a category match counts as two shared keywords) and then by weight. A page that no ad
matches gets the generic ads (those with no categories), by weight, with `reason: "generic"`.
`reason` is one of `category_and_keywords`, `category`, `keywords`, `generic`.
"""


def _ad_response(ad: AdRow, *, status_code: int = 200, location: bool = False) -> Response:
    headers = {"ETag": etag(ad), "Cache-Control": "no-store"}
    if location:
        headers["Location"] = f"{PREFIX}/{ad.id}"
    return json_response(ad_document(ad), status_code=status_code, headers=headers)


def _if_match_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names (``"3"``, ``3`` or ``W/"3"``); ``*`` or none names no version."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise PreconditionFailedError("If-Match must be the ad's ETag (its version).", field="if-match")
    return int(text)


def _parse_keywords(text: str | None) -> list[str]:
    if text is None:
        return []
    words = split_keywords(text)
    if len(words) > MAX_PAGE_KEYWORDS:
        raise UnprocessableError(f"At most {MAX_PAGE_KEYWORDS} keywords.", field="query.keywords")
    if any(len(word) > KEYWORD_LENGTH for word in words):
        raise UnprocessableError(f"A keyword has at most {KEYWORD_LENGTH} characters.", field="query.keywords")
    return words


AdminReader = Annotated[AdsService, Depends(reader(AdsRuntime, AdsRuntime.service))]
Writer = Annotated[
    AdsService, Depends(writer(AdsRuntime, AdsRuntime.service, guards=(Admin, JsonBody), clears_cache=True))
]
AdIdPath = Annotated[str, Path(max_length=64, description="The ad's id (a UUID).")]
IfMatch = Annotated[str | None, Header(max_length=64, description="The ETag of a previous read (the version).")]


router = APIRouter(prefix=PREFIX, tags=["ads"])


@router.get(
    "",
    response_model=None,
    responses={200: {"model": schemas.ServedAdsOut}, 422: {}},
    summary="Contextual ads for a page, by category and keywords",
    description=SERVE_DESCRIPTION,
)
async def serve(
    runtime: Runtime,
    sessions: ReadSessions,
    cache: ReadCache,
    category: Annotated[schemas.Slug | None, Query(description="The page's category slug.")] = None,
    keywords: Annotated[
        str | None,
        Query(
            max_length=MAX_KEYWORDS_TEXT,
            description="Words separated by blanks or commas.",
            json_schema_extra={"pattern": KEYWORDS_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SERVED, description=f"1-{MAX_SERVED} ads.")] = DEFAULT_SERVED,
) -> Response:
    words = _parse_keywords(keywords)
    key = ("serve", category, tuple(sorted(stems(words))), limit)

    async def load() -> EncodedJson:
        async with sessions() as session:
            items = await runtime.service(session).choose(category=category, keywords=words, limit=limit)
        return EncodedJson.of({"items": items})

    encoded = await cache.get_or_load(key, load)
    for item in orjson.loads(encoded.body)["items"]:
        ads_served_total.labels(item["reason"]).inc()
    return Response(encoded.body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get(
    "/all",
    response_model=None,
    # 400 as well: the document keeps what it said before cursors were refused with a 422
    responses={200: {"model": schemas.AdPage}, 400: {}, 401: {}, 403: {}, 422: {}},
    summary="Every ad, inactive and expired ones included, newest first (admin)",
)
async def list_all(
    service: AdminReader, cursors: Cursors, _admin: Admin, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    page = await service.list_all(limit=limit, cursor=cursor, cursors=cursors)
    return page_response(page, ad_document)


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.AdOut}, 401: {}, 403: {}, 422: {}},
    summary="Create an ad (admin)",
)
async def create(service: Writer, body: schemas.AdCreate) -> Response:
    return _ad_response(await service.create(body), status_code=201, location=True)


@router.get(
    "/{ad_id}",
    response_model=None,
    responses={200: {"model": schemas.AdOut}, 401: {}, 403: {}, 404: {}},
    summary="One ad (admin)",
)
async def get_ad(service: AdminReader, _admin: Admin, ad_id: AdIdPath) -> Response:
    return _ad_response(await service.get(ad_id))


@router.patch(
    "/{ad_id}",
    response_model=None,
    responses={200: {"model": schemas.AdOut}, 401: {}, 403: {}, 404: {}, 409: {}, 412: {}, 422: {}},
    summary="Change some fields of an ad (admin; If-Match or body.version for optimistic concurrency)",
)
async def update(service: Writer, ad_id: AdIdPath, body: schemas.AdUpdate, if_match: IfMatch = None) -> Response:
    ad = await service.load_for_update(ad_id, expected_version=_if_match_version(if_match))
    if body.version is not None and body.version != ad.version:
        raise PreconditionFailedError(
            f"The ad is at version {ad.version}, not {body.version}; fetch it again and retry.",
            field="body.version",
        )
    return _ad_response(await service.update(ad, body))


@router.delete(
    "/{ad_id}",
    status_code=204,
    response_model=None,
    responses={204: {}, 401: {}, 403: {}, 404: {}, 412: {}},
    summary="Delete an ad (admin; PATCH active=false keeps it)",
)
async def delete(service: Writer, ad_id: AdIdPath, if_match: IfMatch = None) -> Response:
    ad = await service.load_for_update(ad_id, expected_version=_if_match_version(if_match))
    await service.delete(ad)
    return Response(status_code=204)
