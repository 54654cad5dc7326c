"""The currency's HTTP routes under ``/api/currency``: parse, call the service, shape the response.

Reads are public and served from the read cache: the currencies document is the cached unit,
and a conversion computes from the rates in it, so a hot ``convert`` touches no database. An
admin's rate change clears the cache once its transaction has committed; other replicas see it
within ``read_cache_ttl`` seconds (5 by default).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from agora.contracts.catalog import CurrencyCode
from agora.platform.auth import Admin
from agora.platform.http.deps import JsonBody, ReadCache, ReadSessions, writer
from agora.platform.http.etag import EncodedJson, conditional_response
from agora.platform.http.responses import json_response
from agora.services.currency import schemas
from agora.services.currency.conversion import MAX_AMOUNT
from agora.services.currency.metrics import conversions_total
from agora.services.currency.runtime import CurrencyRuntime, Runtime
from agora.services.currency.service import CurrencyService, RateTable, currencies_document, currency_document

PREFIX = "/api/currency"
CURRENCIES_KEY = ("currencies",)

CONVERT_DESCRIPTION = """\
Converts `amount` minor units of `from` into minor units of `to` (cents; yen have none).

The amount is computed exactly from the two stored rates with `decimal` arithmetic (no binary
floats) and rounded **once**, to the nearest minor unit, **ties to even** (banker's rounding):
rounding ties up would add half a minor unit to every tie, a bias that accumulates over many
prices, while ties to even round up and down equally often. Each result is therefore within half
a minor unit of the exact value. `rate` (12 significant digits) is informational only.

An unsupported currency is a 422 naming `query.from` or `query.to`; an amount outside
0..10^15, or one whose conversion would exceed 10^18 - 1, is a 422 naming `query.amount`.
"""

router = APIRouter(prefix=PREFIX, tags=["currency"])


async def currencies(runtime: Runtime, sessions: ReadSessions, cache: ReadCache) -> EncodedJson:
    """The currencies document, from the read cache (loaded on a miss)."""

    async def load() -> EncodedJson:
        async with sessions() as session:
            rates = await runtime.service(session).list_rates()
        return EncodedJson.of(currencies_document(rates))

    return await cache.get_or_load(CURRENCIES_KEY, load)


Writer = Annotated[
    CurrencyService,
    Depends(writer(CurrencyRuntime, CurrencyRuntime.service, guards=(Admin, JsonBody), clears_cache=True)),
]


@router.get(
    "/currencies",
    response_model=None,
    responses={200: {"model": schemas.CurrencyPage}},
    summary="Supported currencies with their ISO 4217 exponent and rate per US dollar",
)
async def list_currencies(request: Request, runtime: Runtime, sessions: ReadSessions, cache: ReadCache) -> Response:
    return conditional_response(request, await currencies(runtime, sessions, cache))


@router.get(
    "/convert",
    response_model=None,
    responses={200: {"model": schemas.ConversionOut}, 422: {}},
    summary="Convert an amount between currencies (half-to-even rounding)",
    description=CONVERT_DESCRIPTION,
)
async def convert(
    runtime: Runtime,
    sessions: ReadSessions,
    cache: ReadCache,
    amount: Annotated[int, Query(ge=0, le=MAX_AMOUNT, description="Minor units of `from`, 0 to 10^15.")],
    source: Annotated[CurrencyCode, Query(alias="from", description="ISO 4217 code.")],
    target: Annotated[CurrencyCode, Query(alias="to", description="ISO 4217 code.")],
) -> Response:
    document = await currencies(runtime, sessions, cache)
    table = RateTable.from_document(orjson.loads(document.body))
    payload = table.convert(amount, source, target)
    conversions_total.labels(source, target).inc()
    return json_response(payload)


@router.put(
    "/rates/{code}",
    response_model=None,
    responses={200: {"model": schemas.CurrencyOut}, 404: {}, 409: {}, 422: {}},
    summary="Set a currency's rate per US dollar (admin); USD is fixed at 1",
)
async def set_rate(
    service: Writer,
    admin: Admin,
    code: Annotated[CurrencyCode, Path(description="ISO 4217 code.")],
    body: schemas.RateUpdate,
) -> Response:
    rate = await service.set_rate(code, body.rate_per_usd, actor=admin.id)
    return json_response(currency_document(rate))
