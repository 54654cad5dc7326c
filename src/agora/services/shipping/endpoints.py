"""Shipping's HTTP routes under ``/api/shipping``: parse, call the service, shape the response.

``POST /quote`` is public and touches no database. Shipments are for services (orders, with its
service token) and admins: ``POST /shipments`` answers 201 for a new shipment and 200 with the
same shipment when the order already has one, so orders can retry it safely.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from agora.platform.db import Session, after_commit
from agora.platform.http.deps import Cursors
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import require_json
from agora.platform.http.responses import json_response
from agora.services.shipping import schemas
from agora.services.shipping.auth import Admin, ServiceOrAdmin
from agora.services.shipping.metrics import quotes_total, shipments_total
from agora.services.shipping.pricing import price
from agora.services.shipping.runtime import Runtime
from agora.services.shipping.service import CREATED, DELIVERED, ShippingService, shipment_document

PREFIX = "/api/shipping"

QUOTE_DESCRIPTION = """\
The standard-service price of shipping `items` to `address`, always in **US dollars** (minor
units): convert it with `GET /api/currency/convert` when the order is in another currency.

Priced by the destination's zone (from the ISO 3166-1 alpha-2 `address.country`) and the number
of units: domestic (US) 4.99 + 0.99 per further unit, capped at 29.99, 3 days; North America
(CA, MX) 9.99 + 1.99, cap 59.99, 6 days; Europe 14.99 + 2.99, cap 89.99, 8 days; rest of the world
24.99 + 3.99, cap 149.99, 12 days.
"""

JsonBody = Annotated[None, Depends(require_json)]


async def _service(runtime: Runtime, session: Session) -> ShippingService:
    return runtime.service(session)


Service = Annotated[ShippingService, Depends(_service)]
ShipmentId = Annotated[str, Path(max_length=64, description="The shipment's id (a UUID).")]

router = APIRouter(prefix=PREFIX, tags=["shipping"])


@router.post(
    "/quote",
    response_model=None,
    responses={200: {"model": schemas.QuoteOut}, 422: {}},
    summary="Quote standard shipping (USD) for an address and items",
    description=QUOTE_DESCRIPTION,
)
async def quote(body: schemas.QuoteRequest, _json_body: JsonBody) -> Response:
    priced = price(body.address.country, (item.quantity for item in body.items))
    quotes_total.labels(priced.zone).inc()
    return json_response(priced.document())


@router.post(
    "/shipments",
    status_code=201,
    response_model=None,
    responses={201: {"model": schemas.ShipmentOut}, 200: {"model": schemas.ShipmentOut}, 409: {}, 422: {}},
    summary="Ship an order (service or admin); the same order again returns its shipment (200)",
)
async def create_shipment(
    service: Service, caller: ServiceOrAdmin, body: schemas.ShipmentCreate, _json_body: JsonBody
) -> Response:
    result = await service.create(body, actor=caller.id)
    if not result.created:
        return json_response(shipment_document(result.shipment))
    after_commit(service.session, shipments_total.labels(CREATED).inc)
    location = f"{PREFIX}/shipments/{result.shipment.id}"
    return json_response(shipment_document(result.shipment), status_code=201, headers={"Location": location})


@router.get(
    "/shipments",
    response_model=None,
    responses={200: {"model": schemas.ShipmentPage}},
    summary="Shipments, newest first, or the one of an order (service or admin)",
)
async def list_shipments(
    service: Service,
    cursors: Cursors,
    _caller: ServiceOrAdmin,
    order_id: Annotated[schemas.OrderId | None, Query(description="Only this order's shipment (at most one).")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    if order_id is not None:
        shipment = await service.by_order(order_id)
        return json_response({"items": [shipment_document(shipment)] if shipment else [], "next_cursor": None})
    items, next_cursor = await service.page(limit=limit, cursor=cursor, cursors=cursors)
    return json_response({"items": [shipment_document(s) for s in items], "next_cursor": next_cursor})


@router.get(
    "/shipments/{shipment_id}",
    response_model=None,
    responses={200: {"model": schemas.ShipmentOut}, 404: {}},
    summary="A shipment (service or admin)",
)
async def get_shipment(service: Service, _caller: ServiceOrAdmin, shipment_id: ShipmentId) -> Response:
    return json_response(shipment_document(await service.get(shipment_id)))


@router.post(
    "/shipments/{shipment_id}/deliver",
    response_model=None,
    responses={200: {"model": schemas.ShipmentOut}, 404: {}},
    summary="Confirm a delivery (admin); a second call changes nothing",
)
async def deliver_shipment(service: Service, _admin: Admin, shipment_id: ShipmentId) -> Response:
    shipment, changed = await service.deliver(shipment_id)
    if changed:
        after_commit(service.session, shipments_total.labels(DELIVERED).inc)
    return json_response(shipment_document(shipment))
