"""What a checkout can end in: the step names, the failures a customer reads, and the refusals."""

from __future__ import annotations

from agora.platform.errors import ConflictError, ServiceUnavailableError, UnprocessableError
from agora.services.orders.documents import Failure
from agora.services.orders.gateways import Refused
from agora.services.orders.models import Order

CREATED, PRICED, RESERVED, CHARGED, CONFIRMED, DONE = "created", "priced", "reserved", "charged", "confirmed", "done"
COMPENSATING, FAILED = "compensating", "failed"
CANCELLING, CANCELLED = "cancelling", "cancelled"
STEPS = (CREATED, PRICED, RESERVED, CHARGED, CONFIRMED, DONE)

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


class Fail(Exception):
    def __init__(self, failure: Failure, step: str) -> None:
        super().__init__(failure.code)
        self.failure = failure
        self.step = step


class LeaseLost(Exception):
    pass


class Handoff(Exception):
    """Stop here; the lease will lapse and recovery will pick the order up."""


def stored_failure(order: Order) -> Failure:
    if order.failure_code is None:
        return INTERRUPTED
    return Failure(order.failure_code, order.failure_reason or "", order.failure_status or 503)


def pricing_refusal(exc: Refused, currency: str) -> Failure:
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
