"""Payments' direct adapter of :class:`~agora.contracts.ports.PaymentsPort` (embedded mode).

Each operation is its route without HTTP (:mod:`agora.platform.peers`): the role check (service
or admin), the route's validation of the body (``schemas.ChargeCreate``: a 422 naming
``body.card.number``), payments' own sessions, the same errors. A charge goes through the same
idempotency store as the route, in the caller's scope, so a key first used over HTTP replays in
a direct call and the other way round: a declined card is the stored 402, raised again as
:class:`~agora.platform.errors.PaymentRequiredError` with its ``reason`` and ``charge_id``.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from pydantic import Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.payments import Charge, ChargePage, ChargeRequest
from agora.platform.db import after_commit
from agora.platform.idempotency import IdempotentResult
from agora.platform.idempotency.http import answer_once, check_key
from agora.platform.idempotency.store import Replay
from agora.platform.peers import Peer, checked, committed, error_for, parsed, reading, runtime_in, transaction
from agora.platform.service import ServiceContext
from agora.services.payments import metrics, schemas
from agora.services.payments.endpoints import PREFIX, count_charge, declined_problem
from agora.services.payments.models import CAPTURED, EXTERNAL_ID_LENGTH, ID_LENGTH
from agora.services.payments.runtime import PaymentsRuntime
from agora.services.payments.service import PaymentsService, ProviderUnavailableError, charge_document

CHARGES_PATH = f"{PREFIX}/charges"
_CHARGE_ID: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(max_length=ID_LENGTH)])
_ORDER_ID: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(min_length=1, max_length=EXTERNAL_ID_LENGTH)])
#: the route's default page size for ``GET /charges``
PAGE_SIZE = 20


def _service(context: ServiceContext, session: AsyncSession) -> PaymentsService:
    return runtime_in(context, PaymentsRuntime).service(session)


def _answer(replay: Replay) -> Charge:
    """The charge the stored (or just given) answer holds, or the refusal it stands for."""
    document = orjson.loads(replay.body)
    if replay.status_code < 400:
        return Charge.model_validate(document)
    errors = document.get("errors") or [{}]
    extra = {k: v for k, v in document.items() if k not in ("type", "title", "status", "detail", "instance", "errors")}
    raise error_for(replay.status_code, str(document.get("detail", "")), errors[0].get("field"), extra)


class DirectPayments:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def charge(self, request: ChargeRequest, *, idempotency_key: str) -> Charge:
        async def work(context: ServiceContext) -> Charge:
            caller = self._peer.caller.require("service", "admin")
            key = check_key(idempotency_key)
            body = parsed(schemas.ChargeCreate, request)

            async def run(session: AsyncSession) -> IdempotentResult:
                charge = await _service(context, session).charge(body)
                after_commit(session, lambda: count_charge(charge))
                if charge.status != CAPTURED:
                    return IdempotentResult(402, declined_problem(charge, CHARGES_PATH))
                return IdempotentResult(201, charge_document(charge), {"Location": f"{CHARGES_PATH}/{charge.id}"})

            try:
                answer, _ = await answer_once(
                    context, scope=caller.id, key=key, payload=body, run=run, instance=CHARGES_PATH
                )
            except ProviderUnavailableError:
                metrics.charges_total.labels("provider_error").inc()
                raise
            committed()  # the answer is stored (with the charge, when one was made)
            return _answer(answer)

        return await self._peer.call("charge", work)

    async def charges(self, order_id: str) -> ChargePage:
        async def work(context: ServiceContext) -> ChargePage:
            self._peer.caller.require("service", "admin")
            checked(_ORDER_ID, order_id, "query.order_id")
            async with reading(context) as session:
                charges, next_cursor = await _service(context, session).list_charges(
                    order_id=order_id, limit=PAGE_SIZE, cursor=None, cursors=context.cursors
                )
            items = [Charge.model_validate(charge_document(charge)) for charge in charges]
            return ChargePage(items=items, next_cursor=next_cursor)

        return await self._peer.call("charges", work)

    async def refund(self, charge_id: str) -> Charge:
        async def work(context: ServiceContext) -> Charge:
            self._peer.caller.require("service", "admin")
            checked(_CHARGE_ID, charge_id, "path.charge_id")
            async with transaction(context) as session:
                charge, refunded = await _service(context, session).refund(charge_id)
                if refunded:
                    currency = charge.currency
                    after_commit(session, lambda: metrics.refunds_total.labels(currency).inc())
                return Charge.model_validate(charge_document(charge))

        return await self._peer.call("refund", work)


__all__ = ["DirectPayments"]
