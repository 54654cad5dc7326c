"""Orders' HTTP routes under ``/api/orders``: parse, call the saga or the service, shape the response.

``POST /checkout`` answers when the saga has ended: 201 with the paid order, or a problem with
the failed order's ``order_id``, ``code`` and ``reason`` (402 declined, 409 out of stock, 502/503
a dependency). It takes an ``Idempotency-Key`` (per user): the same key and body replay the
stored answer, the same key while the first is running is a 409, the same key with another body
a 422. The checkout does not use the request's session (the saga commits every step itself), so
it has no commit point of its own.

One key, one outcome: once the saga created an order, the key's answer is what became of that
order, paid or failed (a 5xx failure too), rendered once when the order ended and stored with it;
the first request is sent that stored answer and every replay the same status, headers
(``Location``, ``Content-Type``) and bytes. A key whose first request died with its process is
answered from its order once recovery settled it, never with a second order.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from agora.platform.db import Session
from agora.platform.errors import ServiceError
from agora.platform.http.deps import Cursors, PlatformConfig
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import PROBLEM_JSON, error_document, require_json
from agora.platform.http.responses import json_response
from agora.platform.idempotency import Begun, IdempotencyKey, Replay, fingerprint, replay_response
from agora.services.orders import schemas
from agora.services.orders.auth import Admin, Shopper, may_cancel_any, sees_all
from agora.services.orders.documents import ORDERS_PATH, CheckoutFailed, checkout_answer, order_document
from agora.services.orders.gateways import Card
from agora.services.orders.models import Order
from agora.services.orders.repository import OrdersRepository
from agora.services.orders.runtime import OrdersRuntime, Runtime
from agora.services.orders.saga import CheckoutInProgress, CheckoutRequest, SettlingLater
from agora.services.orders.service import OrdersService
from agora.services.orders.status import Status

PREFIX = ORDERS_PATH

OrderId = Annotated[str, Path(max_length=36, description="The order's id (a UUID).")]
Json = Annotated[None, Depends(require_json)]

router = APIRouter(prefix=PREFIX, tags=["orders"])


def _order_response(order: Order, *, status_code: int = 200) -> Response:
    headers = {"Location": f"{PREFIX}/{order.id}"} if status_code == 201 else None
    return json_response(order_document(order), status_code=status_code, headers=headers)


async def _any_visible(runtime: Runtime, session: Session, caller: Shopper) -> OrdersService:
    """Orders' rules as the caller sees them: admins and support every order, others their own."""
    return runtime.service(session, visible_to=None if sees_all(caller) else caller.id)


async def _as_admin(runtime: Runtime, session: Session, _caller: Admin) -> OrdersService:
    return runtime.service(session)


Visible = Annotated[OrdersService, Depends(_any_visible)]
Administered = Annotated[OrdersService, Depends(_as_admin)]


async def _answer_from_order(runtime: OrdersRuntime, begun: Begun, order: Order) -> Response:
    """The key's first request left this order but no stored answer: answer with what became of it."""
    if order.status == Status.pending.value:
        await runtime.keys.abandon(begun.scope, begun.key)
        raise CheckoutInProgress(order.id)
    answer = checkout_answer(order)
    async with runtime.saga.sessions() as session:
        await runtime.keys.complete_with(session, begun.scope, begun.key, answer)
        await session.commit()
    return replay_response(answer, replayed=False)


async def _stored_answer(runtime: OrdersRuntime, scope: str, key: str) -> Response | None:
    """The answer the saga stored with the key when the order ended: sent as stored, so the first
    answer and every replay are the same status, headers and bytes."""
    stored = await runtime.keys.answer(scope, key)
    return None if stored is None else replay_response(stored, replayed=False)


def _checkout_request(user_id: str, key: str, body: schemas.CheckoutIn) -> CheckoutRequest:
    card = body.card
    return CheckoutRequest(
        user_id=user_id,
        key=key,
        currency=body.currency,
        address=body.shipping_address.model_dump(),
        card=Card(number=card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc),
    )


async def _refused_before_any_order(runtime: OrdersRuntime, begun: Begun, exc: ServiceError, path: str) -> None:
    """A refusal before any order existed (an empty cart) is the key's answer."""
    code, document, _ = error_document(exc, path)
    async with runtime.saga.sessions() as session:
        await runtime.keys.complete(
            session, begun.scope, begun.key, status_code=code, body=orjson.dumps(document), content_type=PROBLEM_JSON
        )
        await session.commit()


async def _checkout(runtime: OrdersRuntime, begun: Begun, body: schemas.CheckoutIn, path: str) -> Response:
    """Runs the saga for a key seen for the first time; settles what the key answers."""
    keys, scope, key = runtime.keys, begun.scope, begun.key
    try:
        order = await runtime.saga.checkout(_checkout_request(scope, key, body))
    except CheckoutFailed as exc:
        if exc.order_id is None:  # nothing was created (the cart could not be read): retry freely
            await keys.abandon(scope, key)
            raise
        # the failed order's answer; none yet when compensation must be finished by recovery
        # (the key stays in flight until then)
        failed = await _stored_answer(runtime, scope, key)
        if failed is None:
            raise
        return failed
    except (CheckoutInProgress, SettlingLater):
        raise  # the key stays in flight; its owner (or recovery) settles the order
    except ServiceError as exc:
        if exc.status >= 500:
            await keys.abandon(scope, key)
        else:
            await _refused_before_any_order(runtime, begun, exc, path)
        raise
    except Exception:
        await keys.abandon(scope, key)
        raise
    return await _stored_answer(runtime, scope, key) or _order_response(order, status_code=201)


@router.post(
    "/checkout",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": schemas.OrderOut},
        400: {},
        402: {},
        409: {},
        422: {},
        502: {},
        503: {},
    },
    summary="Check out the caller's cart: reserve, charge, confirm (Idempotency-Key required)",
)
async def checkout(
    request: Request,
    runtime: Runtime,
    platform: PlatformConfig,
    caller: Shopper,
    key: IdempotencyKey,
    body: schemas.CheckoutIn,
    _json: Json,
) -> Response:
    secret = platform.secret_key.get_secret_value().encode()
    begun = await runtime.keys.begin(caller.id, key, fingerprint(body, secret))
    if isinstance(begun, Replay):
        return replay_response(begun)
    async with runtime.saga.sessions() as session:
        earlier = await OrdersRepository(session).by_idempotency_key(caller.id, key)
    if earlier is not None:  # one key, one order: whatever became of it is the answer
        return await _answer_from_order(runtime, begun, earlier)
    return await _checkout(runtime, begun, body, request.url.path)


@router.get(
    "",
    response_model=None,
    responses={200: {"model": schemas.OrderPage}},
    summary="The caller's orders, newest first",
)
async def list_orders(
    runtime: Runtime, session: Session, cursors: Cursors, caller: Shopper, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    service = runtime.service(session, visible_to=caller.id)
    items, next_cursor = await service.history(user_id=caller.id, limit=limit, cursor=cursor, cursors=cursors)
    return json_response({"items": [order_document(order) for order in items], "next_cursor": next_cursor})


@router.get(
    "/{order_id}",
    response_model=None,
    responses={200: {"model": schemas.OrderOut}, 404: {}},
    summary="One order (the caller's own; admins and support see every order)",
)
async def get_order(service: Visible, order_id: OrderId) -> Response:
    return _order_response(await service.get(order_id))


@router.post(
    "/{order_id}/cancel",
    response_model=None,
    responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}},
    summary="Cancel a paid order before it ships: refund and restock (owner or admin)",
)
async def cancel_order(runtime: Runtime, session: Session, caller: Shopper, order_id: OrderId) -> Response:
    service = runtime.service(session, visible_to=None if may_cancel_any(caller) else caller.id)
    order = await service.get(order_id)
    await runtime.saga.cancel(order)
    return _order_response(await runtime.saga.load(order.id))


@router.post(
    "/{order_id}/ship",
    response_model=None,
    responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}, 502: {}},
    summary="Ship a paid order (admin): creates the shipment, stores its tracking id",
)
async def ship_order(service: Administered, order_id: OrderId) -> Response:
    return _order_response(await service.ship(order_id))


@router.post(
    "/{order_id}/deliver",
    response_model=None,
    responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}},
    summary="Mark a shipped order delivered (admin)",
)
async def deliver_order(service: Administered, order_id: OrderId) -> Response:
    return _order_response(await service.deliver(order_id))
