"""The checkout saga on each database, with in-memory fakes of the services it calls.

What these pin down: every step is committed before the next, failures compensate backwards
(refund, release) and leave a readable reason, an unknown outcome is left to recovery rather
than guessed, and recovery finishes or compensates whatever a dead process left behind.
The same saga against the real services is in test_checkout.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.platform.db import create_engine, create_sessionmaker
from agora.platform.db.migrations import upgrade
from agora.platform.db.types import utcnow
from agora.platform.errors import ConflictError
from agora.platform.idempotency import Begun, IdempotencyStore, Replay
from agora.platform.messaging import Outbox, outbox
from agora.services.orders import spec
from agora.services.orders.documents import CheckoutFailed
from agora.services.orders.gateways import Card, CartLine, ProductInfo, Unavailable
from agora.services.orders.models import Order
from agora.services.orders.saga import CheckoutRequest, CheckoutSaga, EmptyCart, SettlingLater, UnitOfWork
from agora.services.orders.settings import OrdersSettings
from tests.integration.orders.fakes import DECLINED_CARD, PROVIDER_ERROR_CARD, Fakes

GOOD_CARD = "4242424242424242"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London", "postal_code": "N19", "country": "GB"}
MUG = ProductInfo(str(uuid.uuid4()), "HOME-MUG-001", "Blue Mug", price_amount=1200, price_currency="USD", active=True)
LAMP = ProductInfo(str(uuid.uuid4()), "HOME-LMP-001", "Desk Lamp", price_amount=4000, price_currency="USD", active=True)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Crash(BaseException):
    """Stands in for a process dying mid-call: nothing in the saga catches it."""


def committing(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWork:
    """The saga's unit of work without a service around it: commits when the block ends (there
    is no relay to wake; the tests read the outbox table)."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            yield session

    return transaction


@dataclass
class Harness:
    sessions: async_sessionmaker[AsyncSession]
    fakes: Fakes
    clock: Clock
    keys: IdempotencyStore
    saga: CheckoutSaga

    def another_saga(self) -> CheckoutSaga:
        """A second process's saga over the same database (for recovery races)."""
        return CheckoutSaga(
            sessions=self.sessions,
            unit_of_work=committing(self.sessions),
            outbox=Outbox("agora/orders"),
            gateways=self.fakes.gateways(),
            settings=self.saga.settings,
            keys=self.keys,
            clock=self.clock,
        )

    async def order(self, order_id: str) -> Order:
        return await self.saga.load(order_id)

    async def events(self, order_id: str) -> list[str]:
        async with self.sessions() as session:
            rows = await session.execute(select(outbox.c.type).where(outbox.c.key == order_id).order_by(outbox.c.id))
            return list(rows.scalars())

    async def order_count(self, user_id: str) -> int:
        async with self.sessions() as session:
            statement = select(func.count()).select_from(Order).where(Order.user_id == user_id)
            return int((await session.execute(statement)).scalar_one())


@pytest.fixture(scope="module")
async def database(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=5)
    await upgrade(engine, service="orders", migrations_dir=spec.migrations_dir)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def harness(database: async_sessionmaker[AsyncSession]) -> Harness:
    fakes = Fakes()
    fakes.catalog.products = {MUG.id: MUG, LAMP.id: LAMP}
    fakes.inventory.stock = {MUG.sku: 5, LAMP.sku: 5}
    clock = Clock()
    keys = IdempotencyStore(database)
    saga = CheckoutSaga(
        sessions=database,
        unit_of_work=committing(database),
        outbox=Outbox("agora/orders"),
        gateways=fakes.gateways(),
        settings=OrdersSettings(lease_seconds=30),
        keys=keys,
        clock=clock,
    )
    return Harness(database, fakes, clock, keys, saga)


async def start(harness: Harness, *, card: str = GOOD_CARD, currency: str = "EUR", lines: int = 2) -> CheckoutRequest:
    user = f"user-{uuid.uuid4().hex[:8]}"
    items = [CartLine(MUG.id, MUG.sku, MUG.name, 2), CartLine(LAMP.id, LAMP.sku, LAMP.name, 1)][:lines]
    harness.fakes.cart.carts[user] = items
    key = str(uuid.uuid4())
    assert isinstance(await harness.keys.begin(user, key, "fp"), Begun)
    return CheckoutRequest(user_id=user, key=key, currency=currency, address=ADDRESS, card=Card(card, 12, 2099, "123"))


async def test_a_checkout_prices_reserves_charges_and_confirms(harness: Harness) -> None:
    request = await start(harness)
    order = await harness.saga.checkout(request)

    assert (order.status, order.saga_step, order.lease_until) == ("paid", "done", None)
    # EUR at 0.5 per USD: 2 x 6.00 + 1 x 20.00, shipping 5.00 USD -> 2.50
    assert [(i.name, i.quantity, i.unit_price, i.line_total) for i in order.items] == [
        ("Blue Mug", 2, 600, 1200),
        ("Desk Lamp", 1, 2000, 2000),
    ]
    assert (order.subtotal, order.shipping_cost, order.total, order.currency) == (3200, 250, 3450, "EUR")
    assert harness.fakes.payments.charges[order.id]["amount"] == 3450
    assert (order.payment_id, order.card_last4) == (f"ch-{order.id[:8]}", "4242")
    assert harness.fakes.inventory.reservations[order.id][0] == "committed"
    assert harness.fakes.inventory.stock == {MUG.sku: 3, LAMP.sku: 4}
    assert request.user_id not in harness.fakes.cart.carts
    assert await harness.events(order.id) == ["orders.order.placed", "orders.order.paid"]
    replay = await harness.keys.begin(request.user_id, request.key, "fp")
    assert isinstance(replay, Replay) and replay.status_code == 201
    assert orjson.loads(replay.body)["status"] == "paid"


@pytest.mark.parametrize(
    ("card", "status", "code", "reason"),
    [
        (DECLINED_CARD, 402, "card_declined", "Your card was declined."),
        (PROVIDER_ERROR_CARD, 502, "payment_provider_error", "The card provider did not respond; nothing was charged."),
    ],
)
async def test_a_refused_card_fails_the_order_and_releases_the_stock(
    harness: Harness, card: str, status: int, code: str, reason: str
) -> None:
    request = await start(harness, card=card)
    with pytest.raises(CheckoutFailed) as failed:
        await harness.saga.checkout(request)

    assert (failed.value.status, failed.value.failure.code, failed.value.detail) == (status, code, reason)
    order = await harness.order(failed.value.order_id or "")
    assert (order.status, order.saga_step, order.failure_code) == ("failed", "failed", code)
    assert order.failure_reason == reason
    assert order.lease_until is None
    assert harness.fakes.inventory.held() == {} and harness.fakes.inventory.stock == {MUG.sku: 5, LAMP.sku: 5}
    assert harness.fakes.payments.captured_count() == 0
    assert await harness.events(order.id) == ["orders.order.failed"]
    assert request.user_id in harness.fakes.cart.carts  # the cart is kept for another try
    replay = await harness.keys.begin(request.user_id, request.key, "fp")
    # the failed order is the key's one outcome, a 5xx too: the same key never makes a second order
    assert isinstance(replay, Replay) and replay.status_code == status
    assert orjson.loads(replay.body)["order_id"] == order.id


async def test_out_of_stock_names_the_line_and_what_is_left(harness: Harness) -> None:
    harness.fakes.inventory.stock[MUG.sku] = 1
    request = await start(harness)
    with pytest.raises(CheckoutFailed) as failed:
        await harness.saga.checkout(request)
    assert failed.value.status == 409
    assert failed.value.detail == "Only 1 of 'Blue Mug' is left."
    assert failed.value.field == "cart.items[0].quantity"
    assert harness.fakes.payments.charges == {}
    assert harness.fakes.inventory.stock == {MUG.sku: 1, LAMP.sku: 5}


async def test_payments_down_fails_cleanly_and_the_key_keeps_that_answer(harness: Harness) -> None:
    harness.fakes.payments.down = True
    request = await start(harness)
    with pytest.raises(CheckoutFailed) as failed:
        await harness.saga.checkout(request)
    assert failed.value.status == 503
    assert failed.value.detail == "Payments are unavailable right now; nothing was charged."
    assert harness.fakes.inventory.held() == {}
    replay = await harness.keys.begin(request.user_id, request.key, "fp")
    assert isinstance(replay, Replay) and replay.status_code == 503
    assert orjson.loads(replay.body)["order_id"] == failed.value.order_id


async def test_an_empty_cart_creates_no_order(harness: Harness) -> None:
    request = await start(harness)
    harness.fakes.cart.carts[request.user_id] = []
    with pytest.raises(EmptyCart):
        await harness.saga.checkout(request)
    assert await harness.order_count(request.user_id) == 0


async def test_an_unknown_charge_outcome_is_settled_by_recovery_not_guessed(harness: Harness) -> None:
    harness.fakes.payments.lose_answer = True
    request = await start(harness)
    with pytest.raises(SettlingLater) as settling:
        await harness.saga.checkout(request)
    order_id = settling.value.extra["order_id"]
    order = await harness.order(order_id)
    assert (order.status, order.saga_step) == ("pending", "reserved")

    harness.fakes.payments.lose_answer = False
    assert await harness.saga.recover() == 0  # the lease has not lapsed: its owner may still finish
    harness.clock.advance(31)
    assert await harness.saga.recover() == 1

    order = await harness.order(order_id)
    assert (order.status, order.saga_step, order.payment_id) == ("paid", "done", f"ch-{order_id[:8]}")
    assert harness.fakes.payments.captured_count() == 1
    assert harness.fakes.inventory.reservations[order_id][0] == "committed"
    replay = await harness.keys.begin(request.user_id, request.key, "fp")
    assert isinstance(replay, Replay) and replay.status_code == 201


async def test_a_process_that_died_before_charging_is_compensated(harness: Harness) -> None:
    payments = harness.fakes.payments

    async def die(**_: object) -> None:
        raise Crash()

    payments.charge = die  # type: ignore[method-assign]
    request = await start(harness)
    with pytest.raises(Crash):
        await harness.saga.checkout(request)
    async with harness.sessions() as session:
        order = (await session.execute(select(Order).where(Order.user_id == request.user_id))).scalars().one()
    assert (order.status, order.saga_step) == ("pending", "reserved")
    assert harness.fakes.inventory.held() == {order.id: "held"}

    harness.clock.advance(31)
    assert await harness.another_saga().recover() == 1
    order = await harness.order(order.id)
    assert (order.status, order.failure_code) == ("failed", "checkout_interrupted")
    assert harness.fakes.inventory.held() == {} and payments.charges == {}
    assert await harness.events(order.id) == ["orders.order.failed"]


async def test_stock_that_cannot_be_committed_yet_is_committed_by_recovery(harness: Harness) -> None:
    harness.fakes.inventory.commit_down = True
    request = await start(harness)
    with pytest.raises(SettlingLater) as settling:
        await harness.saga.checkout(request)
    order_id = settling.value.extra["order_id"]
    assert (await harness.order(order_id)).saga_step == "charged"

    harness.fakes.inventory.commit_down = False
    harness.clock.advance(31)
    await harness.saga.recover()
    order = await harness.order(order_id)
    assert (order.status, order.saga_step) == ("paid", "done")
    assert harness.fakes.payments.captured_count() == 1


async def test_a_lost_reservation_refunds_the_charge(harness: Harness) -> None:
    inventory = harness.fakes.inventory
    original = inventory.commit

    async def expire_then_commit(reservation_id: str) -> None:
        await inventory.release(reservation_id)  # the reservation's TTL ran out meanwhile
        await original(reservation_id)

    inventory.commit = expire_then_commit  # type: ignore[method-assign]
    request = await start(harness)
    with pytest.raises(CheckoutFailed) as failed:
        await harness.saga.checkout(request)
    assert (failed.value.status, failed.value.failure.code) == (409, "reservation_expired")
    assert harness.fakes.payments.captured_count() == 0
    assert [charge["status"] for charge in harness.fakes.payments.charges.values()] == ["refunded"]


async def test_a_compensation_that_cannot_finish_is_finished_by_recovery(harness: Harness) -> None:
    inventory = harness.fakes.inventory
    original = inventory.release

    async def down(reservation_id: str) -> None:
        raise Unavailable("inventory")

    inventory.release = down  # type: ignore[method-assign]
    request = await start(harness, card=DECLINED_CARD)
    with pytest.raises(CheckoutFailed) as failed:
        await harness.saga.checkout(request)
    order_id = failed.value.order_id or ""
    assert (await harness.order(order_id)).saga_step == "compensating"

    inventory.release = original  # type: ignore[method-assign]
    harness.clock.advance(31)
    assert await harness.saga.recover() == 1
    order = await harness.order(order_id)
    assert (order.status, order.failure_code) == ("failed", "card_declined")
    assert order.failure_reason == "Your card was declined."
    assert inventory.held() == {}


async def test_two_recovering_processes_resume_an_order_once(harness: Harness) -> None:
    harness.fakes.payments.lose_answer = True
    request = await start(harness)
    with pytest.raises(SettlingLater):
        await harness.saga.checkout(request)
    harness.fakes.payments.lose_answer = False
    harness.clock.advance(31)

    results = await asyncio.gather(harness.saga.recover(), harness.another_saga().recover())
    assert sorted(results) == [0, 1]
    assert harness.fakes.payments.captured_count() == 1


async def test_cancel_refunds_and_restocks_once(harness: Harness) -> None:
    order = await harness.saga.checkout(await start(harness))
    await harness.saga.cancel(order)

    cancelled = await harness.order(order.id)
    assert (cancelled.status, cancelled.saga_step, cancelled.lease_until) == ("cancelled", "cancelled", None)
    assert harness.fakes.payments.captured_count() == 0
    assert harness.fakes.inventory.stock == {MUG.sku: 5, LAMP.sku: 5}
    assert (await harness.events(order.id))[-1] == "orders.order.cancelled"
    with pytest.raises(ConflictError):
        await harness.saga.cancel(cancelled)
    with pytest.raises(ConflictError):  # a stale copy loses the conditional update
        await harness.saga.cancel(order)
