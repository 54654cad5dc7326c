"""Payments running in-process on each database backend, migrated once per module."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from agora.platform.idempotency import idempotency_keys
from agora.platform.messaging import outbox
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.auth import TokenFactory
from agora.services.payments import PaymentsSettings, spec
from agora.services.payments.models import Charge, Refund

API = "/api/payments"
NEXT_YEAR = datetime.now(UTC).year + 1
SUCCEEDS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
PROVIDER_ERROR = "4000 0000 0000 0119"

_orders = itertools.count(1)


def new_order_id() -> str:
    return f"order-{next(_orders)}-{uuid.uuid4().hex[:8]}"


def card(number: str = SUCCEEDS, **fields: Any) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123", **fields}


def charge_body(
    number: str = SUCCEEDS, *, order_id: str | None = None, amount: int = 1999, **card_fields: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id or new_order_id(),
        "user_id": "user-42",
        "amount": {"amount": amount, "currency": "USD"},
        "card": card(number, **card_fields),
    }


def bearer(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@dataclass
class Payments:
    client: httpx.AsyncClient
    embedded: Any
    service_token: str

    @property
    def context(self) -> Any:
        return self.embedded.contexts["payments"]

    async def counts(self) -> dict[str, int]:
        """Rows per table: what "nothing was written" is checked against."""
        async with self.context.sessions() as session:
            result = {}
            for name, table in (
                ("charges", Charge),
                ("refunds", Refund),
                ("outbox", outbox),
                ("idempotency_keys", idempotency_keys),
            ):
                result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            return result

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.context.sessions() as session:
            statement = select(outbox.c.key, outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.id)
            rows = (await session.execute(statement)).all()
        return [{"key": row.key, **orjson.loads(row.payload)} for row in rows]

    async def charges_of(self, order_id: str) -> list[Charge]:
        async with self.context.sessions() as session:
            rows = (await session.execute(select(Charge).where(Charge.order_id == order_id))).unique().scalars().all()
            return list(rows)

    async def charge(self, body: dict[str, Any], *, key: str | None = None, token: str | None = None) -> httpx.Response:
        headers = bearer(token or self.service_token, key or str(uuid.uuid4()))
        return await self.client.post(f"{API}/charges", json=body, headers=headers)

    async def captured(self, **kwargs: Any) -> dict[str, Any]:
        response = await self.charge(charge_body(**kwargs))
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="module")
async def payments(
    database_url: str, jwks_file: Path, token_factory: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Payments]:
    platform = platform_for_tests(tmp_path_factory.mktemp("payments"), jwks_file=jwks_file)
    settings = {"payments": PaymentsSettings(database_url=database_url)}
    token = token_factory(roles=["service"], subject="service:orders")
    async with running_services([spec], platform, settings) as (client, embedded):
        yield Payments(client, embedded, token)
