"""The saga's forward path, its compensation and its persistence (see the package docstring)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.contracts.orders import OrderFailed
from agora.platform.db.pools import PoolSaturated
from agora.platform.db.types import utcnow
from agora.platform.idempotency import IdempotencyStore
from agora.platform.messaging import Outbox
from agora.services.orders import metrics
from agora.services.orders.documents import (
    CheckoutFailed,
    Failure,
    address_of,
    checkout_answer,
    order_paid,
    order_placed,
)
from agora.services.orders.gateways import (
    Card,
    CartLine,
    Declined,
    GatewayError,
    Gateways,
    OutOfStock,
    ProviderFailed,
    Refused,
    ReservationLost,
    StockLine,
    Unavailable,
    Unknown,
)
from agora.services.orders.models import Order, OrderItem
from agora.services.orders.repository import OrdersRepository
from agora.services.orders.saga._outcomes import (
    CHARGED,
    COMPENSATING,
    CONFIRMED,
    CREATED,
    DECLINED,
    DONE,
    FAILED,
    INTERRUPTED,
    PRICED,
    PROVIDER_ERROR,
    RESERVATION_LOST,
    RESERVED,
    CartTooLarge,
    CheckoutInProgress,
    EmptyCart,
    Fail,
    Handoff,
    LeaseLost,
    SettlingLater,
    pricing_refusal,
    unavailable,
)
from agora.services.orders.settings import OrdersSettings
from agora.services.orders.status import Status, sources

log = structlog.get_logger(__name__)

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""One step's transaction: commits when its block ends (rolls back if it raises), then wakes the
outbox relay when the step wrote events (the service's ``unit_of_work(context)``)."""


@dataclass
class Run:
    """One saga in memory: the order row's facts and the version this process last wrote."""

    order_id: str
    user_id: str
    key: str
    currency: str
    address: dict[str, str]
    version: int
    step: str
    items: list[OrderItem] = field(default_factory=list)
    total: int = 0
    payment_id: str | None = None
    reserve_attempted: bool = False

    @classmethod
    def of(cls, order: Order) -> Run:
        return cls(
            order_id=order.id,
            user_id=order.user_id,
            key=order.idempotency_key,
            currency=order.currency,
            address=address_of(order),
            version=order.version,
            step=order.saga_step,
            items=list(order.items),
            total=order.total,
            payment_id=order.payment_id,
            # from "priced" on, a reservation request may have reached inventory before a crash
            reserve_attempted=order.saga_step not in (CREATED,),
        )

    def stock(self) -> list[StockLine]:
        return [StockLine(item.sku, item.quantity) for item in self.items]


class Admission:
    """How many checkouts run at once in this process, and how many may wait for a turn.

    A saga holds at most one pooled connection at a time (each step commits before the next
    call), but 200 sagas started together all queue on the pools of orders and inventory, where
    every reservation of one product waits for the row lock behind the others; on a busy event
    loop each of those waits passed ``AGORA_DATABASE_POOL_TIMEOUT`` and the checkout was a 503.
    Admitting no more sagas than the pool has connections keeps the queue here, in front of any
    work: a waiting checkout holds nothing and has changed nothing. Past ``max_waiting`` waiters
    a checkout fails at once with :class:`PoolSaturated` (503, ``Retry-After``), as the pool does.
    """

    def __init__(self, limit: int, max_waiting: int) -> None:
        self.limit = limit
        self.max_waiting = max_waiting
        self.waiting = 0
        self._turns = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._turns.locked():
            if self.waiting >= self.max_waiting:
                raise PoolSaturated(f"{self.waiting} checkouts already wait for one of {self.limit} turns", code="3o7r")
            self.waiting += 1
            try:
                await self._turns.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._turns.acquire()
        try:
            yield
        finally:
            self._turns.release()


@dataclass(frozen=True)
class CheckoutRequest:
    user_id: str
    key: str
    currency: str
    address: dict[str, str]
    card: Card


class SagaSteps:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        unit_of_work: UnitOfWork,
        outbox: Outbox,
        gateways: Gateways,
        settings: OrdersSettings,
        keys: IdempotencyStore,
        clock: Callable[[], datetime] = utcnow,
        admission: Admission | None = None,
    ) -> None:
        self.sessions = sessions
        self.unit_of_work = unit_of_work
        self.outbox = outbox
        self.gateways = gateways
        self.settings = settings
        self.keys = keys
        self.clock = clock
        self.admission = admission or Admission(1_000_000, 0)

    # -- the request path ----------------------------------------------------------------------

    async def checkout(self, request: CheckoutRequest) -> Order:
        """Runs the whole saga; returns the paid order or raises :class:`CheckoutFailed` (order
        failed), :class:`SettlingLater` (recovery finishes it) or a refusal before any order."""
        async with self.admission.turn():
            return await self._checkout(request)

    async def _checkout(self, request: CheckoutRequest) -> Order:
        started = time.perf_counter()
        outcome = "error"
        try:
            lines = await self._cart(request.user_id)
            run = await self._create(request)
            try:
                await self._drive(run, lines=lines, card=request.card)
            except CheckoutFailed as failed:
                outcome = failed.failure.code
                raise
            except SettlingLater:
                outcome = "settling"
                raise
            outcome = "paid"
            return await self.load(run.order_id)
        except (EmptyCart, CartTooLarge):
            outcome = "empty_cart"
            raise
        finally:
            metrics.checkouts_total.labels(outcome).inc()
            metrics.checkout_duration_seconds.labels("paid" if outcome == "paid" else "failed").observe(
                time.perf_counter() - started
            )

    async def _cart(self, user_id: str) -> list[CartLine]:
        try:
            lines = await self.gateways.cart.lines(user_id)
        except GatewayError:
            failure = unavailable("cart")
            raise CheckoutFailed(None, failure) from None
        if not lines:
            raise EmptyCart()
        if len(lines) > self.settings.max_lines:
            raise CartTooLarge(f"A checkout takes at most {self.settings.max_lines} different products.")
        return lines

    async def _create(self, request: CheckoutRequest) -> Run:
        now = self.clock()
        order = Order(
            id=str(uuid.uuid4()),
            user_id=request.user_id,
            status=Status.pending.value,
            saga_step=CREATED,
            currency=request.currency,
            subtotal=0,
            shipping_cost=0,
            total=0,
            shipping_address=orjson.dumps(request.address).decode(),
            idempotency_key=request.key,
            lease_until=self._lease(now),
            created_at=now,
            updated_at=now,
            version=1,
        )
        async with self.unit_of_work() as session:
            await OrdersRepository(session).add(order)
        return Run(
            order_id=order.id,
            user_id=order.user_id,
            key=order.idempotency_key,
            currency=order.currency,
            address=request.address,
            version=1,
            step=CREATED,
        )

    async def _drive(self, run: Run, *, lines: Sequence[CartLine] = (), card: Card | None = None) -> None:
        """Runs the steps from ``run.step`` on; compensates on a failure."""
        try:
            if run.step == CREATED:
                await self._price(run, lines)
            if run.step == PRICED:
                await self._reserve(run)
            if run.step == RESERVED:
                if card is None:  # only recovery gets here, and it decides before calling _drive
                    raise Fail(INTERRUPTED, RESERVED)
                await self._charge(run, card)
            if run.step == CHARGED:
                await self._confirm(run)
            if run.step == CONFIRMED:
                await self._finish(run)
        except Fail as fail:
            metrics.saga_step_failures_total.labels(fail.step, fail.failure.code).inc()
            await self._compensate(run, fail.failure)
        except LeaseLost:
            raise CheckoutInProgress(run.order_id) from None
        except Handoff:
            raise SettlingLater(run.order_id) from None

    # -- the steps -----------------------------------------------------------------------------

    async def _price(self, run: Run, lines: Sequence[CartLine]) -> None:
        items: list[OrderItem] = []
        try:
            for position, line in enumerate(lines):
                product = await self.gateways.catalog.product(line.product_id)
                if product is None or not product.active:
                    raise Fail(
                        Failure(
                            "product_unavailable", f"'{line.name}' is no longer sold; remove it from your cart.", 409
                        ),
                        PRICED,
                    )
                unit = await self.gateways.currency.convert(product.price_amount, product.price_currency, run.currency)
                items.append(
                    OrderItem(
                        id=str(uuid.uuid4()),
                        order_id=run.order_id,
                        position=position,
                        product_id=product.id,
                        sku=product.sku,
                        name=product.name,
                        quantity=line.quantity,
                        unit_price=unit,
                        line_total=unit * line.quantity,
                    )
                )
            stock = [StockLine(item.sku, item.quantity) for item in items]
            amount, currency = await self.gateways.shipping.quote(run.address, stock, run.currency)
            shipping = await self.gateways.currency.convert(amount, currency, run.currency)
        except Unavailable as exc:
            raise Fail(unavailable(exc.service), PRICED) from None
        except Refused as exc:
            raise Fail(pricing_refusal(exc, run.currency), PRICED) from None
        except GatewayError as exc:  # a read that timed out: nothing changed anywhere
            raise Fail(unavailable(exc.service), PRICED) from None
        subtotal = sum(item.line_total for item in items)
        run.items = items
        run.total = subtotal + shipping
        await self._persist(
            run, PRICED, items=items, subtotal=subtotal, shipping_cost=shipping, total=subtotal + shipping
        )

    async def _reserve(self, run: Run) -> None:
        run.reserve_attempted = True
        try:
            await self.gateways.inventory.reserve(run.order_id, run.stock(), self.settings.reservation_ttl_seconds)
        except OutOfStock as exc:
            run.reserve_attempted = False  # refused: inventory holds nothing for this order
            raise Fail(await self._out_of_stock(run, exc), RESERVED) from None
        except Unavailable:
            run.reserve_attempted = False
            raise Fail(unavailable("inventory"), RESERVED) from None
        except Unknown:
            raise Fail(unavailable("inventory"), RESERVED) from None  # compensation releases it
        except Refused as exc:
            failure = Failure("stock_refused", exc.detail or "The stock service refused the order.", 409)
            raise Fail(failure, RESERVED) from None
        await self._persist(run, RESERVED)

    async def _out_of_stock(self, run: Run, exc: OutOfStock) -> Failure:
        item = None
        if exc.index is not None and 0 <= exc.index < len(run.items):
            item = run.items[exc.index]
        elif exc.sku is not None:
            item = next((i for i in run.items if i.sku == exc.sku), None)
        if item is None:
            return Failure("out_of_stock", "Some items in your cart are no longer in stock.", 409)
        available = exc.available
        if available is None:
            try:
                available = await self.gateways.inventory.available(item.sku)
            except GatewayError:
                available = None
        index = run.items.index(item)
        field_name = f"cart.items[{index}].quantity"
        if available:
            noun = "is" if available == 1 else "are"
            return Failure("out_of_stock", f"Only {available} of '{item.name}' {noun} left.", 409, field_name)
        return Failure("out_of_stock", f"'{item.name}' is out of stock.", 409, field_name)

    async def _charge(self, run: Run, card: Card) -> None:
        try:
            charge = await self.gateways.payments.charge(
                order_id=run.order_id, user_id=run.user_id, amount=run.total, currency=run.currency, card=card
            )
        except Declined:
            raise Fail(DECLINED, CHARGED) from None
        except ProviderFailed:
            raise Fail(PROVIDER_ERROR, CHARGED) from None
        except Unavailable:
            raise Fail(unavailable("payments"), CHARGED) from None
        except Refused as exc:
            if exc.status == 409:  # payments is still handling this order's charge: let recovery ask
                raise Handoff() from None
            field_name = f"body.{exc.field}" if exc.field and not exc.field.startswith("body.") else exc.field
            reason = f"The card was refused: {exc.detail}" if exc.detail else "The card was refused."
            raise Fail(Failure("card_refused", reason, 422, field_name or "body.card"), CHARGED) from None
        except Unknown:
            metrics.saga_step_failures_total.labels(CHARGED, "unknown_outcome").inc()
            raise Handoff() from None
        run.payment_id = charge.id
        await self._persist(run, CHARGED, payment_id=charge.id, card_brand=charge.brand, card_last4=charge.last4)

    async def _confirm(self, run: Run) -> None:
        try:
            await self.gateways.inventory.commit(run.order_id)
        except ReservationLost:
            raise Fail(RESERVATION_LOST, CONFIRMED) from None
        except GatewayError:
            metrics.saga_step_failures_total.labels(CONFIRMED, "inventory_unavailable").inc()
            raise Handoff() from None

        async def record(session: AsyncSession, order: Order) -> None:
            await self.outbox.add(session, order_placed(order), subject=order.id)
            await self.outbox.add(session, order_paid(order), subject=order.id)
            await self._store_answer(session, order)
            metrics.revenue_minor_total.labels(order.currency).inc(order.total)

        await self._persist(run, CONFIRMED, statuses=sources(Status.paid), status=Status.paid.value, then=record)

    async def _finish(self, run: Run) -> None:
        try:
            await self.gateways.cart.clear(run.user_id)
        except GatewayError:
            # the order is paid either way; the lease stays, so recovery clears the cart later
            metrics.saga_step_failures_total.labels(DONE, "cart_unavailable").inc()
            return
        await self._persist(run, DONE, terminal=True)

    # -- compensation --------------------------------------------------------------------------

    async def _compensate(self, run: Run, failure: Failure) -> NoReturn:
        """Undo backwards, then mark the order failed; raises :class:`CheckoutFailed`."""
        if run.payment_id is not None or run.reserve_attempted:
            if run.step != COMPENSATING:
                await self._persist(
                    run,
                    COMPENSATING,
                    failure_code=failure.code,
                    failure_reason=failure.reason,
                    failure_status=failure.status,
                )
            try:
                if run.payment_id is not None:
                    await self.gateways.payments.refund(run.payment_id)
                if run.reserve_attempted:
                    await self.gateways.inventory.release(run.order_id)
            except GatewayError as exc:
                # the order stays "compensating" under its lease; recovery finishes the job
                log.warning("compensation_deferred", order_id=run.order_id, service=exc.service)
                raise CheckoutFailed(run.order_id, failure) from None

        async def record(session: AsyncSession, order: Order) -> None:
            failed = OrderFailed(order_id=order.id, user_id=order.user_id, code=failure.code, reason=failure.reason)
            await self.outbox.add(session, failed, subject=order.id)
            # the failed order is the key's one outcome, a 5xx too: a retry with this key gets
            # this answer again, never a second order (a new attempt takes a new key)
            await self._store_answer(session, order, failure)

        await self._persist(
            run,
            FAILED,
            statuses=sources(Status.failed),
            status=Status.failed.value,
            failure_code=failure.code,
            failure_reason=failure.reason,
            failure_status=failure.status,
            terminal=True,
            then=record,
        )
        raise CheckoutFailed(run.order_id, failure)

    async def _store_answer(self, session: AsyncSession, order: Order, failure: Failure | None = None) -> None:
        await self.keys.complete_with(session, order.user_id, order.idempotency_key, checkout_answer(order, failure))

    # -- persistence ---------------------------------------------------------------------------

    async def load(self, order_id: str) -> Order:
        async with self.sessions() as session:
            order = await OrdersRepository(session).get(order_id)
        if order is None:
            raise LookupError(order_id)
        return order

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.lease_seconds)

    async def _persist(
        self,
        run: Run,
        step: str,
        *,
        items: Sequence[OrderItem] = (),
        statuses: Collection[str] | None = None,
        terminal: bool = False,
        then: Callable[[AsyncSession, Order], Any] | None = None,
        **values: Any,
    ) -> None:
        """Commits ``step`` (and ``values``) on the order if this process still owns it; the unit
        of work wakes the relay when ``then`` added events."""
        now = self.clock()
        async with self.unit_of_work() as session:
            repository = OrdersRepository(session)
            if items:
                await repository.add_items(items)
            won = await repository.update(
                run.order_id,
                version=run.version,
                statuses=statuses,
                saga_step=step,
                lease_until=None if terminal else self._lease(now),
                updated_at=now,
                **values,
            )
            if not won:
                raise LeaseLost()
            if then is not None:
                order = await repository.get(run.order_id)
                assert order is not None
                await then(session, order)
        run.version += 1
        run.step = step
