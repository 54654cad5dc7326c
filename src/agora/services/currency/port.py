"""The currency's direct adapter of :class:`~agora.contracts.ports.CurrencyPort` (embedded mode).

``convert`` is ``GET /api/currency/convert`` without HTTP (:mod:`agora.platform.peers`): the
route's parameter rules (a 422 naming ``query.amount``, ``query.from`` or ``query.to``), the
same rates from the same read cache (the currencies document, loaded once however many miss), the
same half-to-even arithmetic and errors, the same metric.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from pydantic import Field, TypeAdapter

from agora.contracts.catalog import CurrencyCode, Money
from agora.contracts.currency import Conversion
from agora.platform.peers import Peer, checked, runtime_in
from agora.platform.service import ServiceContext
from agora.services.currency.conversion import MAX_AMOUNT
from agora.services.currency.endpoints import currencies
from agora.services.currency.metrics import conversions_total
from agora.services.currency.runtime import CurrencyRuntime
from agora.services.currency.service import RateTable

_AMOUNT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_AMOUNT)])
_CODE: TypeAdapter[str] = TypeAdapter(CurrencyCode)


async def _rates(context: ServiceContext) -> RateTable:
    document = await currencies(runtime_in(context, CurrencyRuntime), context.read_sessions, context.read_cache)
    return RateTable.from_document(orjson.loads(document.body))


class DirectCurrency:
    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def convert(self, amount: Money, target: str) -> Conversion:
        async def work(context: ServiceContext) -> Conversion:
            checked(_AMOUNT, amount.amount, "query.amount")
            source = checked(_CODE, amount.currency, "query.from")
            checked(_CODE, target, "query.to")
            conversion = (await _rates(context)).convert(amount.amount, source, target)
            conversions_total.labels(source, target).inc()
            return Conversion.model_validate(conversion)

        return await self._peer.call("convert", work)


__all__ = ["DirectCurrency"]
