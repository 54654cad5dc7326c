"""Shipping's HTTP routes under ``/api/shipping``: parse, call the service, shape the response.

``POST /quote`` is public and touches no database. Shipments are for services (orders, with its
service token) and admins: ``POST /shipments`` answers 201 for a new shipment and 200 with the
same shipment when the order already has one, so orders can retry it safely.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from agora.platform.db import Session, after_commit
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import require_json
from agora.services.shipping import schemas
from agora.services.shipping.auth import Admin, ServiceOrAdmin
from agora.services.shipping.metrics import quotes_total, shipments_total
from agora.services.shipping.pricing import price
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


def _json(payload: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


def _service(request: Request, session: Session) -> ShippingService:
    return ShippingService(session, events=request.state.outbox)


Service = Annotated[ShippingService, Depends(_service)]
ShipmentId = Annotated[str, Path(max_length=64, description="The shipment's id (a UUID).")]


def build_router() -> APIRouter:
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
        return _json(priced.document())

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
            return _json(shipment_document(result.shipment))
        after_commit(service.session, shipments_total.labels(CREATED).inc)
        location = f"{PREFIX}/shipments/{result.shipment.id}"
        return _json(shipment_document(result.shipment), status_code=201, headers={"Location": location})

    @router.get(
        "/shipments",
        response_model=None,
        responses={200: {"model": schemas.ShipmentPage}},
        summary="Shipments, newest first, or the one of an order (service or admin)",
    )
    async def list_shipments(
        request: Request,
        service: Service,
        _caller: ServiceOrAdmin,
        order_id: Annotated[
            schemas.OrderId | None, Query(description="Only this order's shipment (at most one).")
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response:
        if order_id is not None:
            shipment = await service.by_order(order_id)
            return _json({"items": [shipment_document(shipment)] if shipment else [], "next_cursor": None})
        items, next_cursor = await service.page(limit=limit, cursor=cursor, codec=request.state.cursor_codec)
        return _json({"items": [shipment_document(s) for s in items], "next_cursor": next_cursor})

    @router.get(
        "/shipments/{shipment_id}",
        response_model=None,
        responses={200: {"model": schemas.ShipmentOut}, 404: {}},
        summary="A shipment (service or admin)",
    )
    async def get_shipment(service: Service, _caller: ServiceOrAdmin, shipment_id: ShipmentId) -> Response:
        return _json(shipment_document(await service.get(shipment_id)))

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
        return _json(shipment_document(shipment))

    return router
