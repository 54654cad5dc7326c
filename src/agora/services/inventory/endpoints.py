"""Inventory's HTTP routes under ``/api/inventory``: parse, call the service, shape the response.

Public: stock reads (one sku, or a batch of up to 100 for a storefront page). Admin: setting a
count and listing every row. Internal (role ``service``; admin may read, commit and release):
reservations, the checkout saga's hold on stock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import Response

from agora.contracts.inventory import ReservationId, Sku
from agora.platform.http.deps import Cursors, JsonBody, reader, writer
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.responses import json_response, page_response
from agora.services.inventory import schemas
from agora.services.inventory.auth import Admin, ServiceCaller, ServiceOrAdmin
from agora.services.inventory.runtime import InventoryRuntime
from agora.services.inventory.service import (
    InventoryService,
    ReservationView,
    stock_document,
)


class _SkuConvertor(StringConvertor):
    """A sku path segment other than ``all``: ``/stock/all`` is its own (GET) route, so a PUT there
    is a 405 with ``Allow: GET, HEAD`` rather than a 422 for a sku called "all"."""

    regex = r"(?!all$)[^/]+"


register_url_convertor("sku", _SkuConvertor())

PREFIX = "/api/inventory"


Reader = Annotated[InventoryService, Depends(reader(InventoryRuntime, InventoryRuntime.service))]
Writer = Annotated[InventoryService, Depends(writer(InventoryRuntime, InventoryRuntime.service))]
SkuPath = Annotated[Sku, Path(description="The product's sku.")]
ReservationPath = Annotated[ReservationId, Path(description="The reservation's id (the caller's, e.g. an order id).")]


def _reservation(view: ReservationView, *, status_code: int = 200) -> Response:
    headers = {"Location": f"{PREFIX}/reservations/{view.id}"} if status_code == 201 else None
    return json_response(view.document(), status_code=status_code, headers=headers)


router = APIRouter(prefix=PREFIX, tags=["inventory"])


@router.get(
    "/stock",
    response_model=None,
    responses={200: {"model": schemas.StockPage}},
    summary="Stock of several skus at once (skus without stock are left out)",
)
async def get_stocks(
    service: Reader,
    sku: Annotated[
        list[Sku],
        Query(min_length=1, max_length=schemas.MAX_BATCH_SKUS, description="Repeat for each sku (1-100)."),
    ],
) -> Response:
    rows = await service.get_stocks(sku)
    return json_response({"items": [stock_document(row) for row in rows], "next_cursor": None})


@router.get(
    "/stock/all",
    response_model=None,
    responses={200: {"model": schemas.StockPage}},
    summary="Every sku's stock, by sku (admin; cursor pagination)",
)
async def list_stock(
    service: Reader, cursors: Cursors, _admin: Admin, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    page = await service.list_stock(limit=limit, cursor=cursor, cursors=cursors)
    return page_response(page, stock_document)


@router.get(
    "/stock/{sku:sku}",
    response_model=None,
    responses={200: {"model": schemas.StockLevel}, 404: {}},
    summary="A sku's stock: on hand, reserved, available",
)
async def get_stock(service: Reader, sku: SkuPath) -> Response:
    return json_response(stock_document(await service.get_stock(sku)))


@router.put(
    "/stock/{sku:sku}",
    response_model=None,
    responses={200: {"model": schemas.StockLevel}, 201: {"model": schemas.StockLevel}, 409: {}, 422: {}},
    summary="Set a sku's units on hand (admin; creates the row; never below what is reserved)",
)
async def set_stock(
    service: Writer, _admin: Admin, _json_body: JsonBody, sku: SkuPath, body: schemas.StockSet
) -> Response:
    stock, created = await service.set_on_hand(sku, body.on_hand)
    return json_response(stock_document(stock), status_code=201 if created else 200)


@router.post(
    "/reservations",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.ReservationOut}, 200: {"model": schemas.ReservationOut}, 409: {}, 422: {}},
    summary="Hold stock for a reservation id (service; the same id again answers the existing one)",
)
async def reserve(
    service: Writer, _caller: ServiceCaller, _json_body: JsonBody, body: schemas.ReservationRequest
) -> Response:
    reserved = await service.reserve(body)
    return _reservation(reserved.reservation, status_code=201 if reserved.created else 200)


@router.get(
    "/reservations/{reservation_id}",
    response_model=None,
    responses={200: {"model": schemas.ReservationOut}, 404: {}},
    summary="A reservation (service or admin)",
)
async def get_reservation(service: Reader, _caller: ServiceOrAdmin, reservation_id: ReservationPath) -> Response:
    return _reservation(await service.get_reservation(reservation_id))


@router.post(
    "/reservations/{reservation_id}/commit",
    response_model=None,
    responses={200: {"model": schemas.ReservationOut}, 404: {}, 409: {}},
    summary="The held units leave stock (service or admin; idempotent; 409 once released or expired)",
)
async def commit(service: Writer, _caller: ServiceOrAdmin, reservation_id: ReservationPath) -> Response:
    return _reservation(await service.commit(reservation_id))


@router.post(
    "/reservations/{reservation_id}/release",
    response_model=None,
    responses={200: {"model": schemas.ReservationOut}, 404: {}},
    summary="Give the units back: end a hold, or restock a committed reservation (service or admin; idempotent)",
)
async def release(service: Writer, _caller: ServiceOrAdmin, reservation_id: ReservationPath) -> Response:
    return _reservation(await service.release(reservation_id))
