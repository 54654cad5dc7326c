"""The payments HTTP routes under ``/api/payments``: parse, call the service, shape the response.

Every route is internal: a service token (the checkout saga) or an admin. A charge needs an
``Idempotency-Key`` (scoped to the caller): the first request runs, a retry with the same key and
body gets the stored answer (the 201, or the 402 of a declined card) with
``Idempotent-Replayed: true``, the same key while the first still runs is a 409, the same key with
another body a 422. A provider failure (502) keeps nothing, so the retry runs again. A refund is
idempotent by nature: refunding a refunded charge returns it unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from agora.contracts.payments import REASON_CARD_DECLINED
from agora.platform.auth import ServiceOrAdmin
from agora.platform.db import after_commit
from agora.platform.http.deps import Cursors, JsonBody, reader, writer
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import TYPE_BASE, problem_body
from agora.platform.http.responses import json_response
from agora.platform.idempotency import IdempotencyKey, IdempotentResult, idempotent
from agora.services.payments import metrics, schemas
from agora.services.payments.models import CAPTURED, EXTERNAL_ID_LENGTH, ID_LENGTH, Charge
from agora.services.payments.provider import TEST_CARDS_DESCRIPTION
from agora.services.payments.runtime import PaymentsRuntime, Runtime
from agora.services.payments.service import PaymentsService, ProviderUnavailableError, charge_document

PREFIX = "/api/payments"

ChargeId = Annotated[str, Path(max_length=ID_LENGTH, description="The charge's id (a UUID).")]
OrderFilter = Annotated[
    str | None, Query(min_length=1, max_length=EXTERNAL_ID_LENGTH, description="Only this order's charges.")
]


Writer = Annotated[PaymentsService, Depends(writer(PaymentsRuntime, PaymentsRuntime.service))]
Reader = Annotated[PaymentsService, Depends(reader(PaymentsRuntime, PaymentsRuntime.service, guards=(ServiceOrAdmin,)))]

router = APIRouter(prefix=PREFIX, tags=["payments"])


def declined_problem(charge: Charge, instance: str) -> dict[str, Any]:
    """The 402 a declined card answers, stored with the key and replayed as it was."""
    return problem_body(
        402,
        title="Payment declined",
        detail=charge.failure_message,
        instance=instance,
        type_=TYPE_BASE + "card-declined",
        reason=REASON_CARD_DECLINED,
        decline_code=charge.failure_code,
        charge_id=charge.id,
    )


def count_charge(charge: Charge) -> None:
    metrics.charges_total.labels(charge.status).inc()
    if charge.status == CAPTURED:
        metrics.amount_minor_total.labels(charge.currency).inc(charge.amount)


@router.post(
    "/charges",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": schemas.ChargeOut, "description": "Captured."},
        400: {"description": "No Idempotency-Key, or a malformed one."},
        402: {"description": "Declined (reason `card_declined`); the declined charge is recorded."},
        409: {"description": "The same key is still being processed, or the order already has a charge."},
        422: {"description": "Invalid body (names the field, e.g. `card.number`) or the key was reused."},
        502: {"description": "The provider failed (reason `provider_error`); nothing recorded, retry."},
    },
    summary="Charge a card (service or admin; Idempotency-Key required)",
    description=TEST_CARDS_DESCRIPTION,
)
async def create_charge(
    request: Request,
    runtime: Runtime,
    caller: ServiceOrAdmin,
    key: IdempotencyKey,
    _content: JsonBody,
    body: schemas.ChargeCreate,
) -> Response:
    async def run(session: AsyncSession) -> IdempotentResult:
        charge = await runtime.service(session).charge(body)
        after_commit(session, lambda: count_charge(charge))
        if charge.status != CAPTURED:
            return IdempotentResult(402, declined_problem(charge, request.url.path))
        return IdempotentResult(201, charge_document(charge), {"Location": f"{PREFIX}/charges/{charge.id}"})

    try:
        # the fingerprint is an HMAC keyed by the platform secret: the card number in it is not guessable
        return await idempotent(request, scope=caller.id, key=key, payload=body, run=run)
    except ProviderUnavailableError:
        metrics.charges_total.labels("provider_error").inc()
        raise


@router.post(
    "/charges/{charge_id}/refund",
    response_model=None,
    responses={
        200: {"model": schemas.ChargeOut, "description": "Refunded (now, or already before)."},
        404: {},
        409: {"description": "The charge was declined: nothing to refund."},
        502: {"description": "The provider failed; nothing refunded, retry."},
    },
    summary="Refund a charge in full (service or admin; idempotent)",
)
async def refund_charge(service: Writer, _caller: ServiceOrAdmin, _content: JsonBody, charge_id: ChargeId) -> Response:
    charge, refunded = await service.refund(charge_id)
    if refunded:
        currency = charge.currency
        after_commit(service.session, lambda: metrics.refunds_total.labels(currency).inc())
    return json_response(charge_document(charge))


@router.get(
    "/charges/{charge_id}",
    response_model=None,
    responses={200: {"model": schemas.ChargeOut}, 404: {}},
    summary="A charge (service or admin)",
)
async def get_charge(service: Reader, charge_id: ChargeId) -> Response:
    return json_response(charge_document(await service.get_charge(charge_id)))


@router.get(
    "/charges",
    response_model=None,
    responses={200: {"model": schemas.ChargePageOut}},
    summary="Charges, newest first, optionally of one order (service or admin)",
    description="The checkout saga's recovery asks `?order_id=` whether an order was charged.",
)
async def list_charges(
    service: Reader, cursors: Cursors, order_id: OrderFilter = None, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    items, next_cursor = await service.list_charges(order_id=order_id, limit=limit, cursor=cursor, cursors=cursors)
    return json_response({"items": [charge_document(c) for c in items], "next_cursor": next_cursor})
