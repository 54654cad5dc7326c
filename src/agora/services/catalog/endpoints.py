"""The catalog's HTTP routes under ``/api/catalog``: parse, call the service, shape the response.

Reads answer with strong ETags over the exact body (``If-None-Match`` gives 304). Writes need
the admin role; ``PATCH`` and ``DELETE`` honour ``If-Match`` (412 when the product changed since
the client read it). ``DELETE`` is a soft delete: the product becomes inactive, disappears for
visitors, stays visible to admins and can be restored with ``PATCH {"active": true}``; orders
and carts that reference it keep a valid id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from agora.contracts.catalog import CurrencyCode
from agora.platform.auth import optional_subject
from agora.platform.auth.cookies import ACCESS_COOKIE
from agora.platform.errors import PreconditionFailedError
from agora.platform.faults import CATALOG_LATENCY, delayed_reads
from agora.platform.http.deps import Cursors, JsonBody, ReadSessions, writer
from agora.platform.http.etag import EncodedJson, conditional_json, conditional_response, etag_for
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.responses import json_response
from agora.platform.peers import runtime_in
from agora.platform.service import context_of
from agora.services.catalog import schemas
from agora.services.catalog.auth import Admin, SeesInactive, is_admin
from agora.services.catalog.models import Product
from agora.services.catalog.repository import ProductView, SortOrder
from agora.services.catalog.runtime import CatalogRuntime, Runtime
from agora.services.catalog.search import terms
from agora.services.catalog.service import (
    CatalogService,
    ProductQuery,
    category_document,
    product_document,
)

PREFIX = "/api/catalog"
MAX_QUERY_LENGTH = 200
MAX_TAG_FILTERS = 5


async def reader(
    runtime: Runtime, sessions: ReadSessions, sees_inactive: SeesInactive
) -> AsyncIterator[CatalogService]:
    # reads need no commit point: an autocommit read session, no BEGIN/COMMIT round trips
    async with sessions() as session:
        yield runtime.service(session, include_inactive=sees_inactive)


def _admin_service(runtime: CatalogRuntime, session: AsyncSession) -> CatalogService:
    return runtime.service(session, include_inactive=True)


async def _cached_product(
    request: Request,
    key: tuple[str, str],
    load: Callable[[CatalogService], Awaitable[ProductView]],
) -> Response:
    """A product read served from the read cache for visitors (admins always read the database).

    The hottest route of the platform, so it takes no FastAPI dependencies: on a cache hit it
    touches neither the token verifier nor a database session. A read needs no commit point, so
    on a miss it opens an autocommit read session of its own (one statement, no BEGIN/ROLLBACK).
    """
    context = context_of(request)
    runtime = runtime_in(context, CatalogRuntime)

    async def read(sees_inactive: bool) -> EncodedJson:
        async with context.read_sessions() as session:
            product = await load(runtime.service(session, include_inactive=sees_inactive))
        return EncodedJson.of(product_document(product))

    # credentials by header or by the browser's session cookie (cookies are parsed only if sent)
    if "authorization" in request.headers or ("cookie" in request.headers and ACCESS_COOKIE in request.cookies):
        encoded = await read(await is_admin(await optional_subject(request)))
    else:
        encoded = await context.read_cache.get_or_load(key, lambda: read(False))
    return conditional_response(request, encoded)


Reader = Annotated[CatalogService, Depends(reader)]
# any write may change what a cached product shows (its own fields, its category's name)
Writer = Annotated[
    CatalogService, Depends(writer(CatalogRuntime, _admin_service, guards=(Admin, JsonBody), clears_cache=True))
]
ProductId = Annotated[str, Path(max_length=64, description="The product's id (a UUID).")]
IfMatch = Annotated[str | None, Header(max_length=1024, description="ETag from a previous read.")]


def _check_if_match(if_match: str | None, product: Product) -> None:
    if if_match is None:
        return
    if if_match.strip() == "*":
        return
    current = etag_for(orjson.dumps(product_document(product)))
    # strong comparison (RFC 9110 13.1.1): a weak validator never matches If-Match
    candidates = [part.strip() for part in if_match.split(",")]
    if current not in candidates:
        raise PreconditionFailedError("The product changed since you read it; fetch it again and retry.")


def _product_response(product: Product, *, status_code: int = 200, location: bool = False) -> Response:
    body = orjson.dumps(product_document(product))
    headers = {"ETag": etag_for(body), "Cache-Control": "no-cache"}
    if location:
        headers["Location"] = f"{PREFIX}/products/{product.id}"
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


PLACEHOLDER_SEGMENT = r"^[a-z0-9-]{1,40}$"


def placeholder_svg(category: str, kind: str) -> bytes:
    """A drawn placeholder for demo products until the media service holds real images.

    Both inputs are constrained to ``[a-z0-9-]`` by the route, so nothing here needs escaping.
    """
    hue = sum(category.encode()) * 37 % 360
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="360" viewBox="0 0 480 360">'
        f'<rect width="480" height="360" fill="hsl({hue},45%,88%)"/>'
        f'<circle cx="240" cy="150" r="70" fill="hsl({hue},45%,60%)"/>'
        f'<text x="240" y="280" font-family="sans-serif" font-size="28" text-anchor="middle" '
        f'fill="hsl({hue},40%,25%)">{kind.upper()}</text>'
        f'<text x="240" y="318" font-family="sans-serif" font-size="18" text-anchor="middle" '
        f'fill="hsl({hue},30%,35%)">{category}</text></svg>'
    ).encode()


# require_json guards the writes (through ``writer``); reads take no body
# the catalog-latency fault flag slows every read (agora.platform.faults)
router = APIRouter(prefix=PREFIX, tags=["catalog"], dependencies=[Depends(delayed_reads(CATALOG_LATENCY))])


@router.get(
    "/products",
    response_model=None,
    responses={200: {"model": schemas.ProductPage}},
    summary="List, filter and search products",
)
async def list_products(
    request: Request,
    service: Reader,
    cursors: Cursors,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_LENGTH, description="Full-text search.")] = None,
    category: Annotated[schemas.Slug | None, Query(description="Category slug.")] = None,
    min_price: Annotated[int | None, Query(ge=0, le=schemas.MAX_PRICE, description="Minor units.")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=schemas.MAX_PRICE, description="Minor units.")] = None,
    tag: Annotated[
        list[schemas.Tag] | None,
        Query(max_length=MAX_TAG_FILTERS, description="Products carrying every tag given."),
    ] = None,
    currency: Annotated[CurrencyCode | None, Query()] = None,
    active: Annotated[bool | None, Query(description="Admins only: filter on the active flag.")] = None,
    sort: Annotated[SortOrder | None, Query(description="Default: relevance with q, newest otherwise.")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    words: tuple[str, ...] = ()
    if q is not None and q.strip():
        words = tuple(terms(q))
        if not words:
            # a query with no searchable word (only punctuation) matches nothing
            return conditional_json(request, {"items": [], "next_cursor": None})
    query = ProductQuery(
        words=words,
        category=category,
        min_price=min_price,
        max_price=max_price,
        tags=tuple(sorted(set(tag or ()))),
        currency=currency,
        active=active,
        sort=sort,
    )
    page = await service.list_products(query, limit=limit, cursor=cursor, cursors=cursors)
    payload = {"items": [product_document(p) for p in page.items], "next_cursor": page.next_cursor}
    return conditional_json(request, payload)


@router.get(
    "/products/by-sku/{sku}",
    response_model=None,
    # 401: credentials are read by hand (_cached_product), where the document cannot see them
    responses={200: {"model": schemas.ProductOut}, 401: {}, 404: {}},
    summary="A product by its sku",
)
async def get_product_by_sku(request: Request, sku: Annotated[str, Path(max_length=64)]) -> Response:
    return await _cached_product(request, ("sku", sku), lambda service: service.get_product_by_sku(sku))


@router.get(
    "/products/{product_id}",
    response_model=None,
    responses={200: {"model": schemas.ProductOut}, 304: {}, 401: {}, 404: {}},
    summary="A product (ETag; If-None-Match answers 304)",
)
async def get_product(request: Request, product_id: ProductId) -> Response:
    return await _cached_product(request, ("id", product_id), lambda service: service.get_product(product_id))


@router.post(
    "/products",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.ProductOut}, 409: {}, 422: {}},
    summary="Create a product (admin)",
)
async def create_product(runtime: Runtime, service: Writer, body: schemas.ProductCreate) -> Response:
    await runtime.check_images(body.images)
    product = await service.create_product(body)
    return _product_response(product, status_code=201, location=True)


@router.patch(
    "/products/{product_id}",
    response_model=None,
    responses={200: {"model": schemas.ProductOut}, 404: {}, 409: {}, 412: {}, 422: {}},
    summary="Change some fields of a product (admin; If-Match for optimistic concurrency)",
)
async def update_product(
    runtime: Runtime, service: Writer, product_id: ProductId, body: schemas.ProductUpdate, if_match: IfMatch = None
) -> Response:
    if body.images is not None:
        await runtime.check_images(body.images)
    product = await service.load_for_update(product_id)
    _check_if_match(if_match, product)
    product = await service.update_product(product, body)
    return _product_response(product)


@router.delete(
    "/products/{product_id}",
    status_code=204,
    response_model=None,
    responses={204: {}, 404: {}, 412: {}},
    summary="Withdraw a product (admin; soft delete)",
)
async def delete_product(service: Writer, product_id: ProductId, if_match: IfMatch = None) -> Response:
    product = await service.load_for_update(product_id)
    _check_if_match(if_match, product)
    await service.delete_product(product)
    return Response(status_code=204)


@router.get(
    "/categories",
    response_model=None,
    responses={200: {"model": schemas.CategoryPage}},
    summary="List categories (by slug)",
)
async def list_categories(
    request: Request, service: Reader, cursors: Cursors, limit: Limit = 100, cursor: Cursor = None
) -> Response:
    items, next_cursor = await service.list_categories(limit=limit, cursor=cursor, cursors=cursors)
    return conditional_json(request, {"items": [category_document(c) for c in items], "next_cursor": next_cursor})


@router.get(
    "/categories/{slug}",
    response_model=None,
    responses={200: {"model": schemas.CategoryOut}, 404: {}},
    summary="A category by slug",
)
async def get_category(request: Request, service: Reader, slug: Annotated[str, Path(max_length=64)]) -> Response:
    category = await service.get_category(slug)
    return conditional_json(request, category_document(category))


@router.post(
    "/categories",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.CategoryOut}, 409: {}, 422: {}},
    summary="Create a category (admin)",
)
async def create_category(service: Writer, body: schemas.CategoryCreate) -> Response:
    category = await service.create_category(body)
    return json_response(
        category_document(category),
        status_code=201,
        headers={"Location": f"{PREFIX}/categories/{category.slug}"},
    )


@router.patch(
    "/categories/{slug}",
    response_model=None,
    responses={200: {"model": schemas.CategoryOut}, 404: {}, 409: {}, 422: {}},
    summary="Change a category (admin)",
)
async def update_category(
    service: Writer, slug: Annotated[str, Path(max_length=64)], body: schemas.CategoryUpdate
) -> Response:
    category = await service.update_category(slug, body)
    return json_response(category_document(category))


@router.get(
    "/placeholders/{category}/{kind}.svg",
    response_model=None,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="A drawn placeholder image for demo products",
)
async def placeholder(
    category: Annotated[str, Path(pattern=PLACEHOLDER_SEGMENT)],
    kind: Annotated[str, Path(pattern=PLACEHOLDER_SEGMENT)],
) -> Response:
    body = placeholder_svg(category, kind)
    return Response(
        body,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "public, max-age=86400",
            "ETag": etag_for(body),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )
