"""The payments rules: validate nothing twice (the schemas did), ask the provider, record the
outcome and its event in the caller's transaction.

No web framework here and no commit: the caller's unit of work (the idempotency layer's session
for a charge, the request session for a refund) commits the row and its outbox event together.
The card number and CVC pass through :meth:`PaymentsService.charge` on their way to the provider
and are never stored, logged or put in an event.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.catalog import Money
from agora.contracts.payments import (
    REASON_PROVIDER_ERROR,
    CardSummary,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
)
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import BadGatewayError, ConflictError, NotFoundError
from agora.services.payments.models import CAPTURED, DECLINED, REFUNDED, Charge, Refund
from agora.services.payments.provider import PaymentProvider, ProviderError
from agora.services.payments.repository import Keyset, PaymentsRepository
from agora.services.payments.schemas import ChargeCreate

if TYPE_CHECKING:  # types only: the service imports no web framework at run time
    from agora.contracts.base import Event
    from agora.platform.http.pagination import Cursors
    from agora.platform.messaging import Outbox

log = structlog.get_logger(__name__)

CURSOR_LIST = "charges"


class ProviderUnavailableError(BadGatewayError):
    """The provider gave no answer: nothing was charged and nothing recorded; retry later.

    A 5xx, so the idempotency layer keeps nothing for the key: the caller's retry runs again.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason=REASON_PROVIDER_ERROR)


# -- documents -----------------------------------------------------------------------------------


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def card_summary(charge: Charge) -> dict[str, Any]:
    return {
        "brand": charge.card_brand,
        "last4": charge.card_last4,
        "exp_month": charge.card_exp_month,
        "exp_year": charge.card_exp_year,
    }


def charge_document(charge: Charge) -> dict[str, Any]:
    """The charge as the API returns it (``agora.contracts.payments.Charge``)."""
    refund = charge.refund
    return {
        "id": charge.id,
        "order_id": charge.order_id,
        "user_id": charge.user_id,
        "status": charge.status,
        "amount": _money(charge.amount, charge.currency),
        "card": card_summary(charge),
        "failure_code": charge.failure_code,
        "failure_message": charge.failure_message,
        "refund": None
        if refund is None
        else {
            "id": refund.id,
            "amount": _money(refund.amount, charge.currency),
            "created_at": iso_utc(refund.created_at),
        },
        "created_at": iso_utc(charge.created_at),
        "updated_at": iso_utc(charge.updated_at),
    }


def _event(charge: Charge) -> Event:
    """The event a charge just recorded (captured or declined) publishes."""
    amount = Money(amount=charge.amount, currency=charge.currency)
    card = CardSummary.model_validate(card_summary(charge))
    if charge.status == CAPTURED:
        return PaymentCaptured(
            charge_id=charge.id, order_id=charge.order_id, user_id=charge.user_id, amount=amount, card=card
        )
    return PaymentDeclined(
        charge_id=charge.id,
        order_id=charge.order_id,
        user_id=charge.user_id,
        amount=amount,
        card=card,
        failure_code=charge.failure_code or "",
        failure_message=charge.failure_message or "",
    )


# -- the service ---------------------------------------------------------------------------------


class PaymentsService:
    def __init__(self, session: AsyncSession, *, events: Outbox, provider: PaymentProvider) -> None:
        self.session = session
        self.events = events
        self.provider = provider
        self.repository = PaymentsRepository(session)

    # -- reads ----------------------------------------------------------------------------------

    async def get_charge(self, charge_id: str) -> Charge:
        charge = await self.repository.get_charge(charge_id)
        if charge is None:
            raise NotFoundError(f"No charge with id {charge_id}.")
        return charge

    async def list_charges(
        self, *, order_id: str | None, limit: int, cursor: str | None, cursors: Cursors
    ) -> tuple[list[Charge], str | None]:
        """Newest first; a cursor is refused (the chassis's 422 naming ``query.cursor``) for
        another list or another ``order_id`` than it was made for."""
        key = cursors.decode(cursor, tuple[datetime, str], of=CURSOR_LIST, order_id=order_id)
        after = None if key is None else Keyset(created_at=key[0], id=key[1])
        rows = await self.repository.list_charges(order_id=order_id, limit=limit + 1, after=after)
        return cursors.page(rows, limit, _position, of=CURSOR_LIST, order_id=order_id)

    # -- charges --------------------------------------------------------------------------------

    async def charge(self, data: ChargeCreate) -> Charge:
        """Ask the provider, then record a captured or declined charge and its event.

        Raises :class:`ProviderUnavailableError` when the provider gives no answer (nothing is
        recorded), :class:`ConflictError` when the order already has a captured charge: an order
        is never charged twice, even by a caller that lost its Idempotency-Key.
        """
        if await self.repository.captured_charge_for_order(data.order_id) is not None:
            raise _already_charged(data.order_id)
        card = data.card
        try:
            answer = await self.provider.charge(card.number, amount=data.amount.amount, currency=data.amount.currency)
        except ProviderError as exc:
            log.warning("payment_provider_error", order_id=data.order_id, error=str(exc))
            raise ProviderUnavailableError(
                "The payment provider did not answer; nothing was charged. Try again shortly."
            ) from None
        now = utcnow()
        charge = Charge(
            id=str(uuid.uuid4()),
            order_id=data.order_id,
            user_id=data.user_id,
            amount=data.amount.amount,
            currency=data.amount.currency,
            status=CAPTURED if answer.approved else DECLINED,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            provider_reference=answer.reference,
            failure_code=answer.decline_code,
            failure_message=answer.decline_message,
            created_at=now,
            updated_at=now,
            captured_order_id=data.order_id if answer.approved else None,
            refund=None,
        )
        try:
            await self.repository.add(charge)
        except IntegrityError:
            # a racing charge of the same order (another key) captured first: give this money back
            log.warning("charge_lost_order_race", order_id=data.order_id)
            await self._give_back(answer.reference, charge)
            raise _already_charged(data.order_id) from None
        await self._emit(_event(charge), charge)
        log.info(
            "charge_recorded",
            charge_id=charge.id,
            order_id=charge.order_id,
            status=charge.status,
            brand=charge.card_brand,
            last4=charge.card_last4,
            amount=charge.amount,
            currency=charge.currency,
        )
        return charge

    # -- refunds --------------------------------------------------------------------------------

    async def refund(self, charge_id: str) -> tuple[Charge, bool]:
        """Refund a captured charge in full; returns the charge and whether this call refunded it.

        Idempotent: a charge already refunded is returned as it is. A declined charge took no
        money, so there is nothing to refund (409).
        """
        now = utcnow()
        claimed = await self.repository.mark_refunded(charge_id, now)
        charge = await self.repository.get_charge(charge_id, fresh=True)
        if charge is None:
            raise NotFoundError(f"No charge with id {charge_id}.")
        if not claimed:
            if charge.status == REFUNDED:
                return charge, False
            raise ConflictError(f"Charge {charge_id} was {charge.status}: no money was taken, nothing to refund.")
        try:
            await self.provider.refund(charge.provider_reference or "", amount=charge.amount, currency=charge.currency)
        except ProviderError as exc:
            log.warning("payment_provider_error", charge_id=charge_id, operation="refund", error=str(exc))
            raise ProviderUnavailableError(
                "The payment provider did not answer; nothing was refunded. Try again shortly."
            ) from None
        refund = Refund(id=str(uuid.uuid4()), charge_id=charge.id, amount=charge.amount, created_at=now)
        await self.repository.add(refund)
        charge.refund = refund
        refunded = PaymentRefunded(
            charge_id=charge.id,
            refund_id=refund.id,
            order_id=charge.order_id,
            user_id=charge.user_id,
            amount=Money(amount=charge.amount, currency=charge.currency),
        )
        await self._emit(refunded, charge)
        log.info("charge_refunded", charge_id=charge.id, order_id=charge.order_id, refund_id=refund.id)
        return charge, True

    async def _give_back(self, reference: str | None, charge: Charge) -> None:
        """Refund at the provider money that no charge row will account for."""
        if reference is None:
            return
        try:
            await self.provider.refund(reference, amount=charge.amount, currency=charge.currency)
        except ProviderError:
            # the one case where money may be held without a row: say so loudly, with the reference
            log.error("charge_compensation_failed", order_id=charge.order_id, provider_reference=reference)
            raise ProviderUnavailableError(
                "The payment provider did not answer; the order was already charged. Try again shortly."
            ) from None

    async def _emit(self, event: Event, charge: Charge) -> None:
        # keyed by order: an order's payment events keep their order on partitioned brokers
        await self.events.add(self.session, event, subject=charge.id, key=charge.order_id)


def _already_charged(order_id: str) -> ConflictError:
    return ConflictError(
        f"Order {order_id} already has a captured charge; refund it before charging again.", field="order_id"
    )


def _position(charge: Charge) -> tuple[datetime, str]:
    return charge.created_at, charge.id
