"""The checkout saga: an explicit list of steps, each committed on the order row before the next.

::

    created -> priced -> reserved -> charged -> confirmed -> done          (status pending -> paid)
                  \\         \\          \\          \\
                   +---------+----------+----------+--> compensating -> failed   (refund, release)

* ``created``: the order row (``pending``), committed; the cart was read before, so an empty cart
  creates nothing.
* ``priced``: each line re-priced from the catalog (inactive -> fail), converted to the order's
  currency, shipping quoted and converted; lines and totals stored.
* ``reserved``: an inventory reservation whose id is the order id.
* ``charged``: a payments charge with ``Idempotency-Key: order-<id>``; the payment id stored.
* ``confirmed``: the reservation committed, then in ONE transaction: status ``paid``, the
  ``placed`` and ``paid`` events, the idempotency key's answer.
* ``done``: the cart cleared (a failure here leaves the order paid; recovery retries it).

Compensation runs backwards (refund if charged, release if a reservation may exist) and ends
with status ``failed``, a reason a customer can read and ``orders.order.failed``. If a
compensating call fails the order stays at ``compensating`` for recovery to finish.

Ownership: the process driving a saga holds a lease (``lease_until``) that every step renews;
every write is conditional on the version it read (``OrdersRepository.update``), so a process
that lost its lease cannot move the order any more. Recovery (at start-up and periodically)
takes over orders whose lease lapsed: before ``charged`` it asks payments whether a charge
exists (the card number was never stored, so a charge cannot be retried): captured -> continue
to ``confirmed``; none -> compensate. From ``charged`` on it simply continues.

A call whose outcome is unknown (a charge that timed out after being sent) is never guessed at:
the order is left to recovery, which asks the service once the lease has lapsed.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agora.contracts.orders import ORDER_CANCELLED, ORDER_FAILED, ORDER_PAID, ORDER_PLACED
from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.errors import ConflictError, ServiceUnavailableError, UnprocessableError
from agora.platform.http.problems import PROBLEM_JSON, error_document
from agora.platform.idempotency import IdempotencyStore
from agora.platform.messaging import Outbox
from agora.services.orders import metrics
from agora.services.orders.documents import CheckoutFailed, Failure, address_of, order_document, order_facts
from agora.services.orders.gateways import (
    Card,
    CartLine,
    Charge,
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
from agora.services.orders.settings import OrdersSettings
from agora.services.orders.status import Status, check, sources

log = structlog.get_logger(__name__)

CREATED, PRICED, RESERVED, CHARGED, CONFIRMED, DONE = "created", "priced", "reserved", "charged", "confirmed", "done"
COMPENSATING, FAILED = "compensating", "failed"
CANCELLING, CANCELLED = "cancelling", "cancelled"
STEPS = (CREATED, PRICED, RESERVED, CHARGED, CONFIRMED, DONE)
CRASH_EXIT_CODE = 75

_SERVICE_NAMES = {
    "cart": "the cart",
    "catalog": "the catalog",
    "currency": "currency conversion",
    "shipping": "shipping",
    "inventory": "the stock service",
    "payments": "payments",
}


def unavailable(service: str) -> Failure:
    if service == "payments":
        return Failure("payments_unavailable", "Payments are unavailable right now; nothing was charged.", 503)
    name = _SERVICE_NAMES.get(service, service)
    return Failure(
        f"{service}_unavailable", f"Checkout needs {name}, which is unavailable right now; nothing was charged.", 503
    )


DECLINED = Failure("card_declined", "Your card was declined.", 402)
PROVIDER_ERROR = Failure("payment_provider_error", "The card provider did not respond; nothing was charged.", 502)
INTERRUPTED = Failure("checkout_interrupted", "The checkout was interrupted; nothing was charged.", 503)
RESERVATION_LOST = Failure(
    "reservation_expired", "Your items were no longer reserved for you, so the payment was refunded.", 409
)


class EmptyCart(UnprocessableError):
    field = "cart"

    def __init__(self) -> None:
        super().__init__("Your cart is empty; add something before checking out.")


class CartTooLarge(UnprocessableError):
    field = "cart"


class CheckoutInProgress(ConflictError):
    """Another process owns this order's saga right now."""

    def __init__(self, order_id: str) -> None:
        super().__init__("This checkout is still being processed; check the order shortly.", order_id=order_id)


class SettlingLater(ServiceUnavailableError):
    """The saga could not finish or safely compensate now; recovery will settle the order."""

    def __init__(self, order_id: str) -> None:
        super().__init__(
            "We could not confirm your order yet; it will be settled within a minute. Check the order for its status.",
            order_id=order_id,
            code="settling",
        )


class _Fail(Exception):
    def __init__(self, failure: Failure, step: str) -> None:
        super().__init__(failure.code)
        self.failure = failure
        self.step = step


class _LeaseLost(Exception):
    pass


class _Handoff(Exception):
    """Stop here; the lease will lapse and recovery will pick the order up."""


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


@dataclass(frozen=True)
class CheckoutRequest:
    user_id: str
    key: str
    currency: str
    address: dict[str, str]
    card: Card


class CheckoutSaga:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        notify: Callable[[], None],
        gateways: Gateways,
        settings: OrdersSettings,
        keys: IdempotencyStore,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.notify = notify
        self.gateways = gateways
        self.settings = settings
        self.keys = keys
        self.clock = clock

    # -- the request path ----------------------------------------------------------------------

    async def checkout(self, request: CheckoutRequest) -> Order:
        """Runs the whole saga; returns the paid order or raises :class:`CheckoutFailed` (order
        failed), :class:`SettlingLater` (recovery finishes it) or a refusal before any order."""
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
        async with unit_of_work(self.sessions) as session:
            await OrdersRepository(session).add(order)
            await session.commit()
        self._persisted(CREATED)
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
                    raise _Fail(INTERRUPTED, RESERVED)
                await self._charge(run, card)
            if run.step == CHARGED:
                await self._confirm(run)
            if run.step == CONFIRMED:
                await self._finish(run)
        except _Fail as fail:
            metrics.saga_step_failures_total.labels(fail.step, fail.failure.code).inc()
            await self._compensate(run, fail.failure)
        except _LeaseLost:
            raise CheckoutInProgress(run.order_id) from None
        except _Handoff:
            raise SettlingLater(run.order_id) from None

    # -- the steps -----------------------------------------------------------------------------

    async def _price(self, run: Run, lines: Sequence[CartLine]) -> None:
        items: list[OrderItem] = []
        try:
            for position, line in enumerate(lines):
                product = await self.gateways.catalog.product(line.product_id)
                if product is None or not product.active:
                    raise _Fail(
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
            raise _Fail(unavailable(exc.service), PRICED) from None
        except Refused as exc:
            raise _Fail(_pricing_refusal(exc, run.currency), PRICED) from None
        except GatewayError as exc:  # a read that timed out: nothing changed anywhere
            raise _Fail(unavailable(exc.service), PRICED) from None
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
            raise _Fail(await self._out_of_stock(run, exc), RESERVED) from None
        except Unavailable:
            run.reserve_attempted = False
            raise _Fail(unavailable("inventory"), RESERVED) from None
        except Unknown:
            raise _Fail(unavailable("inventory"), RESERVED) from None  # compensation releases it
        except Refused as exc:
            failure = Failure("stock_refused", exc.detail or "The stock service refused the order.", 409)
            raise _Fail(failure, RESERVED) from None
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
            raise _Fail(DECLINED, CHARGED) from None
        except ProviderFailed:
            raise _Fail(PROVIDER_ERROR, CHARGED) from None
        except Unavailable:
            raise _Fail(unavailable("payments"), CHARGED) from None
        except Refused as exc:
            if exc.status == 409:  # payments is still handling this order's charge: let recovery ask
                raise _Handoff() from None
            field_name = f"body.{exc.field}" if exc.field and not exc.field.startswith("body.") else exc.field
            reason = f"The card was refused: {exc.detail}" if exc.detail else "The card was refused."
            raise _Fail(Failure("card_refused", reason, 422, field_name or "body.card"), CHARGED) from None
        except Unknown:
            metrics.saga_step_failures_total.labels(CHARGED, "unknown_outcome").inc()
            raise _Handoff() from None
        run.payment_id = charge.id
        await self._persist(run, CHARGED, payment_id=charge.id, card_brand=charge.brand, card_last4=charge.last4)

    async def _confirm(self, run: Run) -> None:
        try:
            await self.gateways.inventory.commit(run.order_id)
        except ReservationLost:
            raise _Fail(RESERVATION_LOST, CONFIRMED) from None
        except GatewayError:
            metrics.saga_step_failures_total.labels(CONFIRMED, "inventory_unavailable").inc()
            raise _Handoff() from None

        async def record(session: AsyncSession, order: Order) -> None:
            facts = order_facts(order)
            await self.outbox.add(
                session, ORDER_PLACED, {**facts, "shipping_address": address_of(order)}, subject=order.id
            )
            await self.outbox.add(session, ORDER_PAID, {**facts, "payment_id": order.payment_id}, subject=order.id)
            body = orjson.dumps(order_document(order))
            await self.keys.complete(session, order.user_id, order.idempotency_key, status_code=201, body=body)
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
            await self.outbox.add(
                session,
                ORDER_FAILED,
                {"order_id": order.id, "user_id": order.user_id, "code": failure.code, "reason": failure.reason},
                subject=order.id,
            )
            if failure.status < 500:
                status, document, _ = error_document(CheckoutFailed(order.id, failure), "/api/orders/checkout")
                await self.keys.complete(
                    session,
                    order.user_id,
                    order.idempotency_key,
                    status_code=status,
                    body=orjson.dumps(document),
                    content_type=PROBLEM_JSON,
                )

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
        if failure.status >= 500:
            # a 5xx is not an answer worth keeping: a retry with the same key may try again
            await self.keys.abandon(run.user_id, run.key)
        raise CheckoutFailed(run.order_id, failure)

    # -- recovery ------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Takes over every unfinished saga whose lease lapsed; returns how many it settled."""
        now = self.clock()
        async with self.sessions() as session:
            due = await OrdersRepository(session).due_for_recovery(now, self.settings.recovery_batch)
        settled = 0
        for order in due:
            run = Run.of(order)
            if not await self._claim(run):
                continue  # another replica took it first
            outcome = await self._resume(run)
            metrics.recovered_total.labels(outcome).inc()
            log.info("saga_recovered", order_id=run.order_id, from_step=order.saga_step, outcome=outcome)
            settled += outcome in ("paid", "failed", "cancelled")
        return settled

    async def _claim(self, run: Run) -> bool:
        async with unit_of_work(self.sessions) as session:
            won = await OrdersRepository(session).update(
                run.order_id, version=run.version, lease_until=self._lease(self.clock())
            )
            await session.commit()
        if won:
            run.version += 1
        return won

    async def _resume(self, run: Run) -> str:
        try:
            if run.step == CANCELLING:
                await self.finish_cancel(run)
                return "cancelled"
            if run.step == COMPENSATING:
                order = await self.load(run.order_id)
                await self._compensate(run, _stored_failure(order))
            if run.step in (CREATED, PRICED, RESERVED):
                charge = await self._captured(run) if run.step == RESERVED else None
                if charge is None:
                    await self._compensate(run, INTERRUPTED)
                run.payment_id = charge.id
                await self._persist(
                    run, CHARGED, payment_id=charge.id, card_brand=charge.brand, card_last4=charge.last4
                )
            await self._drive(run)
        except CheckoutFailed:
            return "failed"
        except (SettlingLater, CheckoutInProgress, _Handoff, _LeaseLost):
            return "deferred"
        except GatewayError as exc:
            log.warning("recovery_deferred", order_id=run.order_id, service=exc.service)
            return "deferred"
        return "paid" if run.step in (CONFIRMED, DONE) else "deferred"

    async def _captured(self, run: Run) -> Charge | None:
        try:
            return await self.gateways.payments.captured(run.order_id)
        except GatewayError:
            raise _Handoff() from None

    # -- cancel (shares the lease and persistence machinery) -------------------------------------

    async def cancel(self, order: Order) -> None:
        """Status ``cancelled`` and the event, committed first; then refund and restock.

        The claim comes first so a concurrent ship cannot win after the money went back; if a
        refund or release call fails, the order stays at step ``cancelling`` and recovery
        finishes it.
        """
        check(order.status, Status.cancelled)
        run = Run.of(order)

        async def record(session: AsyncSession, cancelled: Order) -> None:
            await self.outbox.add(
                session,
                ORDER_CANCELLED,
                {
                    "order_id": cancelled.id,
                    "user_id": cancelled.user_id,
                    "total": {"amount": cancelled.total, "currency": cancelled.currency},
                    "payment_id": cancelled.payment_id,
                },
                subject=cancelled.id,
            )

        try:
            await self._persist(
                run, CANCELLING, statuses=sources(Status.cancelled), status=Status.cancelled.value, then=record
            )
        except _LeaseLost:
            raise ConflictError("The order changed meanwhile; fetch it again and retry.", field="status") from None
        try:
            await self.finish_cancel(run)
        except GatewayError as exc:
            log.warning("cancel_deferred", order_id=run.order_id, service=exc.service)

    async def finish_cancel(self, run: Run) -> None:
        """Refund and restock a cancelled order (status already ``cancelled``, step ``cancelling``)."""
        if run.payment_id is not None:
            await self.gateways.payments.refund(run.payment_id)
        await self.gateways.inventory.release(run.order_id)
        await self._persist(run, CANCELLED, terminal=True)

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
        statuses: Sequence[str] | None = None,
        terminal: bool = False,
        then: Callable[[AsyncSession, Order], Any] | None = None,
        **values: Any,
    ) -> None:
        """Commits ``step`` (and ``values``) on the order if this process still owns it."""
        now = self.clock()
        async with unit_of_work(self.sessions) as session:
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
                raise _LeaseLost()
            if then is not None:
                order = await repository.get(run.order_id)
                assert order is not None
                await then(session, order)
            await session.commit()
            dirty = session.info.pop("outbox_dirty", False)
        run.version += 1
        run.step = step
        if dirty:
            self.notify()
        self._persisted(step)

    def _persisted(self, step: str) -> None:
        if self.settings.crash_after_step == step:
            # tests only: die as a killed process would, with nothing flushed or cleaned up
            log.warning("crash_after_step", step=step)
            os._exit(CRASH_EXIT_CODE)


def _stored_failure(order: Order) -> Failure:
    if order.failure_code is None:
        return INTERRUPTED
    return Failure(order.failure_code, order.failure_reason or "", order.failure_status or 503)


def _pricing_refusal(exc: Refused, currency: str) -> Failure:
    if exc.service == "currency":
        return Failure("unsupported_currency", f"Prices cannot be given in {currency} right now.", 422, "body.currency")
    if exc.service == "shipping":
        field_name = exc.field or "shipping_address"
        if not field_name.startswith("body."):
            field_name = (
                "body.shipping_address." + field_name.split(".")[-1] if "." in field_name else "body.shipping_address"
            )
        reason = exc.detail or "We cannot ship to this address."
        return Failure("address_not_shippable", reason, 422, field_name)
    return Failure(f"{exc.service}_refused", exc.detail or f"The {exc.service} service refused the order.", 409)


__all__ = [
    "CANCELLED",
    "CANCELLING",
    "COMPENSATING",
    "CRASH_EXIT_CODE",
    "FAILED",
    "STEPS",
    "CartTooLarge",
    "CheckoutInProgress",
    "CheckoutRequest",
    "CheckoutSaga",
    "EmptyCart",
    "Run",
    "SettlingLater",
]
