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

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from agora.platform.db import Session
from agora.platform.errors import ServiceError
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import PROBLEM_JSON, error_document, require_json
from agora.platform.idempotency import Begun, IdempotencyKey, IdempotencyStore, Replay, fingerprint, replay_response
from agora.services.orders import schemas
from agora.services.orders.auth import Admin, Shopper, may_cancel_any, sees_all
from agora.services.orders.documents import ORDERS_PATH, CheckoutFailed, checkout_answer, order_document
from agora.services.orders.gateways import Card
from agora.services.orders.models import Order
from agora.services.orders.repository import OrdersRepository
from agora.services.orders.saga import CheckoutInProgress, CheckoutRequest, CheckoutSaga, SettlingLater
from agora.services.orders.service import OrdersService
from agora.services.orders.status import Status
from agora.services.orders.wiring import gateways_for, keys_for, saga_for

PREFIX = ORDERS_PATH

OrderId = Annotated[str, Path(max_length=36, description="The order's id (a UUID).")]
Json = Annotated[None, Depends(require_json)]


def _json(payload: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json", headers=headers)


def _order_response(order: Order, *, status_code: int = 200) -> Response:
    headers = {"Location": f"{PREFIX}/{order.id}"} if status_code == 201 else None
    return _json(order_document(order), status_code=status_code, headers=headers)


def _service(request: Request, session: Session, subject: Any) -> OrdersService:
    return OrdersService(
        session,
        events=request.state.outbox,
        gateways=gateways_for(request.state.context),
        visible_to=None if sees_all(subject) else subject.id,
    )


async def _answer_from_order(request: Request, saga: CheckoutSaga, begun: Begun, order: Order) -> Response:
    """The key's first request left this order but no stored answer: answer with what became of it."""
    keys = keys_for(request.state.context)
    if order.status == Status.pending.value:
        await keys.abandon(begun.scope, begun.key)
        raise CheckoutInProgress(order.id)
    answer = checkout_answer(order)
    async with saga.sessions() as session:
        await keys.complete_with(session, begun.scope, begun.key, answer)
        await session.commit()
    return replay_response(answer, replayed=False)


async def _stored_answer(keys: IdempotencyStore, scope: str, key: str) -> Response | None:
    """The answer the saga stored with the key when the order ended: sent as stored, so the first
    answer and every replay are the same status, headers and bytes."""
    stored = await keys.answer(scope, key)
    return None if stored is None else replay_response(stored, replayed=False)


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["orders"])

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
        request: Request, caller: Shopper, key: IdempotencyKey, body: schemas.CheckoutIn, _json: Json
    ) -> Response:
        context = request.state.context
        saga = saga_for(context)
        keys = keys_for(context)
        secret = request.state.platform.secret_key.get_secret_value().encode()
        begun = await keys.begin(caller.id, key, fingerprint(body, secret))
        if isinstance(begun, Replay):
            return replay_response(begun)
        async with saga.sessions() as session:
            earlier = await OrdersRepository(session).by_idempotency_key(caller.id, key)
        if earlier is not None:  # one key, one order: whatever became of it is the answer
            return await _answer_from_order(request, saga, begun, earlier)
        card = body.card
        checkout_request = CheckoutRequest(
            user_id=caller.id,
            key=key,
            currency=body.currency,
            address=body.shipping_address.model_dump(),
            card=Card(number=card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc),
        )
        try:
            order = await saga.checkout(checkout_request)
        except CheckoutFailed as exc:
            if exc.order_id is None:  # nothing was created (the cart could not be read): retry freely
                await keys.abandon(caller.id, key)
                raise
            # the failed order's answer; none yet when compensation must be finished by recovery
            # (the key stays in flight until then)
            failed = await _stored_answer(keys, caller.id, key)
            if failed is None:
                raise
            return failed
        except (CheckoutInProgress, SettlingLater):
            raise  # the key stays in flight; its owner (or recovery) settles the order
        except ServiceError as exc:
            if exc.status >= 500:
                await keys.abandon(caller.id, key)
                raise
            # a refusal before any order existed (an empty cart) is the key's answer
            code, document, _ = error_document(exc, request.url.path)
            async with saga.sessions() as session:
                await keys.complete(
                    session, caller.id, key, status_code=code, body=orjson.dumps(document), content_type=PROBLEM_JSON
                )
                await session.commit()
            raise
        except Exception:
            await keys.abandon(caller.id, key)
            raise
        return await _stored_answer(keys, caller.id, key) or _order_response(order, status_code=201)

    @router.get(
        "",
        response_model=None,
        responses={200: {"model": schemas.OrderPage}},
        summary="The caller's orders, newest first",
    )
    async def list_orders(
        request: Request, session: Session, caller: Shopper, limit: Limit = 20, cursor: Cursor = None
    ) -> Response:
        service = OrdersService(session, events=request.state.outbox, visible_to=caller.id)
        page = await service.history(user_id=caller.id, limit=limit, cursor=cursor, codec=request.state.cursor_codec)
        return _json({"items": [order_document(order) for order in page.items], "next_cursor": page.next_cursor})

    @router.get(
        "/{order_id}",
        response_model=None,
        responses={200: {"model": schemas.OrderOut}, 404: {}},
        summary="One order (the caller's own; admins and support see every order)",
    )
    async def get_order(request: Request, session: Session, caller: Shopper, order_id: OrderId) -> Response:
        order = await _service(request, session, caller).get(order_id)
        return _order_response(order)

    @router.post(
        "/{order_id}/cancel",
        response_model=None,
        responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}},
        summary="Cancel a paid order before it ships: refund and restock (owner or admin)",
    )
    async def cancel_order(request: Request, session: Session, caller: Shopper, order_id: OrderId) -> Response:
        service = OrdersService(
            session, events=request.state.outbox, visible_to=None if may_cancel_any(caller) else caller.id
        )
        order = await service.get(order_id)
        saga = saga_for(request.state.context)
        await saga.cancel(order)
        return _order_response(await saga.load(order.id))

    @router.post(
        "/{order_id}/ship",
        response_model=None,
        responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}, 502: {}},
        summary="Ship a paid order (admin): creates the shipment, stores its tracking id",
    )
    async def ship_order(request: Request, session: Session, caller: Admin, order_id: OrderId) -> Response:
        order = await _service(request, session, caller).ship(order_id)
        return _order_response(order)

    @router.post(
        "/{order_id}/deliver",
        response_model=None,
        responses={200: {"model": schemas.OrderOut}, 404: {}, 409: {}},
        summary="Mark a shipped order delivered (admin)",
    )
    async def deliver_order(request: Request, session: Session, caller: Admin, order_id: OrderId) -> Response:
        order = await _service(request, session, caller).deliver(order_id)
        return _order_response(order)

    return router
