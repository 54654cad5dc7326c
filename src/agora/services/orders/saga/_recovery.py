"""Recovery of sagas whose process died, and cancellation: both resume an order from its row."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.catalog import Money
from agora.contracts.orders import OrderCancelled
from agora.platform.errors import ConflictError
from agora.services.orders import metrics
from agora.services.orders.documents import CheckoutFailed
from agora.services.orders.gateways import Charge, GatewayError
from agora.services.orders.models import Order
from agora.services.orders.repository import OrdersRepository
from agora.services.orders.saga._outcomes import (
    CANCELLED,
    CANCELLING,
    CHARGED,
    COMPENSATING,
    CONFIRMED,
    CREATED,
    DONE,
    INTERRUPTED,
    PRICED,
    RESERVED,
    CheckoutInProgress,
    Handoff,
    LeaseLost,
    SettlingLater,
    stored_failure,
)
from agora.services.orders.saga._steps import Run, SagaSteps
from agora.services.orders.status import Status, check, sources

log = structlog.get_logger(__name__)


class CheckoutSaga(SagaSteps):
    """The whole saga: the forward path and compensation, plus recovery and cancellation."""

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
        async with self.unit_of_work() as session:
            won = await OrdersRepository(session).update(
                run.order_id, version=run.version, lease_until=self._lease(self.clock())
            )
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
                await self._compensate(run, stored_failure(order))
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
        except (SettlingLater, CheckoutInProgress, Handoff, LeaseLost):
            return "deferred"
        except GatewayError as exc:
            log.warning("recovery_deferred", order_id=run.order_id, service=exc.service)
            return "deferred"
        return "paid" if run.step in (CONFIRMED, DONE) else "deferred"

    async def _captured(self, run: Run) -> Charge | None:
        try:
            return await self.gateways.payments.captured(run.order_id)
        except GatewayError:
            raise Handoff() from None

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
            event = OrderCancelled(
                order_id=cancelled.id,
                user_id=cancelled.user_id,
                total=Money(amount=cancelled.total, currency=cancelled.currency),
                payment_id=cancelled.payment_id,
            )
            await self.outbox.add(session, event, subject=cancelled.id)

        try:
            await self._persist(
                run, CANCELLING, statuses=sources(Status.cancelled), status=Status.cancelled.value, then=record
            )
        except LeaseLost:
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
