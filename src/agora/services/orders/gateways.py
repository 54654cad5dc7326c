"""The services the checkout saga calls, as the saga sees them (one Protocol each), over the ports.

The saga (``saga.py``) sees only these methods and the outcomes below, never HTTP nor another
service's code; the gateways adapt the services' ports (:mod:`agora.contracts.ports`, called as
the orders service itself, because a resumed saga has no customer token), whichever adapter
the mode gave them (``wiring.py``). Unit tests drive the saga through fakes of these Protocols;
integration tests run the real services.

What a failed call means matters more than usual here, because it decides whether money may
have moved:

* :class:`Unavailable` - the call certainly had no effect: nothing was sent (connection
  refused, circuit open) or the service answered 5xx, which rolls its transaction back;
* :class:`Unknown` - the request may have been handled (a timeout after sending): only a
  later look-up can tell, so the saga hands the order to recovery instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from agora.contracts import ports
from agora.contracts.catalog import Money
from agora.contracts.inventory import ReservationRequest
from agora.contracts.payments import REASON_PROVIDER_ERROR, CardDetails, ChargeRequest
from agora.contracts.payments import Charge as ChargeContract
from agora.contracts.shipping import Destination, ParcelItem, QuoteRequest, ShipmentRequest
from agora.platform.errors import PaymentRequiredError, ServiceError
from agora.platform.peers import PeerOutcomeUnknown, PeerUnavailable

# -- what the ports exchange ---------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    product_id: str
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class ProductInfo:
    id: str
    sku: str
    name: str
    price_amount: int
    price_currency: str
    active: bool


@dataclass(frozen=True)
class StockLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Card:
    """The card as the customer sent it; lives in memory for one charge, never stored."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # a card never reaches a log line through a repr
        return f"Card(last4={self.number[-4:]})"


@dataclass(frozen=True)
class Charge:
    id: str
    brand: str | None
    last4: str | None


@dataclass(frozen=True)
class Shipment:
    id: str
    tracking_id: str


# -- outcomes ------------------------------------------------------------------------------------


class GatewayError(Exception):
    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service}: {detail}" if detail else service)
        self.service = service
        self.detail = detail


class Unavailable(GatewayError):
    """The service did not do it (down, refused, 5xx): safe to compensate or try again later."""


class Unknown(GatewayError):
    """The request may or may not have taken effect (timed out after sending)."""


class Refused(GatewayError):
    """The service answered a 4xx this port has no specific outcome for (a contract mismatch)."""

    def __init__(self, service: str, status: int, detail: str = "", field: str | None = None) -> None:
        super().__init__(service, detail)
        self.status = status
        self.field = field


class OutOfStock(GatewayError):
    def __init__(self, index: int | None, sku: str | None, available: int | None) -> None:
        super().__init__("inventory", f"not enough stock for {sku}")
        self.index = index
        self.sku = sku
        self.available = available


class ReservationLost(GatewayError):
    """The reservation expired or was released before it could be committed."""


class Declined(GatewayError):
    """The card was declined (the decline is stored by payments; nothing was charged)."""


class ProviderFailed(GatewayError):
    """The card provider failed; payments stored nothing and charged nothing."""


# -- the ports -----------------------------------------------------------------------------------


class CartPort(Protocol):
    async def lines(self, user_id: str) -> list[CartLine]: ...

    async def clear(self, user_id: str) -> None: ...


class CatalogPort(Protocol):
    async def product(self, product_id: str) -> ProductInfo | None: ...


class CurrencyPort(Protocol):
    async def convert(self, amount: int, source: str, target: str) -> int: ...


class ShippingPort(Protocol):
    async def quote(self, address: dict[str, str], items: Sequence[StockLine], currency: str) -> tuple[int, str]: ...

    async def ship(self, order_id: str, address: dict[str, str], items: Sequence[StockLine]) -> Shipment: ...


class InventoryPort(Protocol):
    async def reserve(self, reservation_id: str, items: Sequence[StockLine], ttl_seconds: int) -> None: ...

    async def commit(self, reservation_id: str) -> None: ...

    async def release(self, reservation_id: str) -> None: ...

    async def available(self, sku: str) -> int | None: ...


class PaymentsPort(Protocol):
    async def charge(self, *, order_id: str, user_id: str, amount: int, currency: str, card: Card) -> Charge: ...

    async def captured(self, order_id: str) -> Charge | None: ...

    async def refund(self, charge_id: str) -> None: ...


@dataclass(frozen=True)
class Gateways:
    cart: CartPort
    catalog: CatalogPort
    currency: CurrencyPort
    shipping: ShippingPort
    inventory: InventoryPort
    payments: PaymentsPort


# -- the saga's ports over the services' ports -----------------------------------------------
#
# Each class below adapts one contract port (agora.contracts.ports: HTTP in distributed mode, the
# callee's application layer in embedded mode) to what the saga asks, and sorts the port's
# exceptions into the outcomes above. Both adapters raise the same exceptions, so the saga
# behaves the same whichever mode runs it.


@contextmanager
def _outcomes(service: str) -> Iterator[None]:
    """The port's failures as outcomes: unknown, unavailable (incl. a 5xx), refused (a 4xx)."""
    try:
        yield
    except PeerOutcomeUnknown as exc:
        raise Unknown(service, exc.detail) from exc
    except PeerUnavailable as exc:
        raise Unavailable(service, exc.detail) from exc
    except ServiceError as exc:
        if exc.status >= 500:
            raise Unavailable(service, f"answered {exc.status}") from exc
        raise Refused(service, exc.status, exc.detail, exc.field) from exc


def _invalid(service: str, exc: ValidationError) -> Refused:
    """A request the callee's contract refuses, as the 422 it would have answered, naming the field."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in ("body", *error.get("loc", ())))
    return Refused(service, 422, error.get("msg", "invalid"), field)


class CartGateway:
    def __init__(self, port: ports.CartPort) -> None:
        self._port = port

    async def lines(self, user_id: str) -> list[CartLine]:
        try:
            with _outcomes("cart"):
                cart = await self._port.user_cart(user_id)
        except Refused as exc:
            if exc.status == 404:
                return []
            raise
        # sku and name are missing when the cart could not price a line; the saga re-prices anyway
        return [
            CartLine(
                product_id=item.product_id,
                sku=item.sku or "",
                name=item.name or "A product in your cart",
                quantity=item.quantity,
            )
            for item in cart.items
        ]

    async def clear(self, user_id: str) -> None:
        try:
            with _outcomes("cart"):
                await self._port.clear_user_cart(user_id)
        except Refused as exc:
            if exc.status != 404:
                raise


class CatalogGateway:
    def __init__(self, port: ports.CatalogPort) -> None:
        self._port = port

    async def product(self, product_id: str) -> ProductInfo | None:
        try:
            with _outcomes("catalog"):
                product = await self._port.product(product_id)
        except Refused as exc:
            if exc.status == 404:
                return None
            raise
        return ProductInfo(
            id=product.id,
            sku=product.sku,
            name=product.name,
            price_amount=product.price.amount,
            price_currency=product.price.currency,
            active=product.active,
        )


class CurrencyGateway:
    def __init__(self, port: ports.CurrencyPort) -> None:
        self._port = port

    async def convert(self, amount: int, source: str, target: str) -> int:
        if source == target:
            return amount
        with _outcomes("currency"):
            converted = (await self._port.convert(Money(amount=amount, currency=source), target)).to
        if converted.currency != target:
            raise Refused("currency", 200, f"converted to {converted.currency}, not {target}")
        return converted.amount


def _parcel(items: Sequence[StockLine]) -> list[ParcelItem]:
    return [ParcelItem(sku=item.sku, quantity=item.quantity) for item in items]


class ShippingGateway:
    def __init__(self, port: ports.ShippingPort) -> None:
        self._port = port

    async def quote(self, address: dict[str, str], items: Sequence[StockLine], currency: str) -> tuple[int, str]:
        where = Destination(**{key: address[key] for key in ("country", "postal_code", "city", "line1")})
        with _outcomes("shipping"):
            quote = await self._port.quote(QuoteRequest(address=where, items=_parcel(items), currency=currency))
        return quote.cost.amount, quote.cost.currency

    async def ship(self, order_id: str, address: dict[str, str], items: Sequence[StockLine]) -> Shipment:
        request = ShipmentRequest(order_id=order_id, address=Destination(**address), items=_parcel(items))
        with _outcomes("shipping"):
            shipment = await self._port.ship(request)
        return Shipment(id=shipment.id, tracking_id=shipment.tracking_id)


class InventoryGateway:
    def __init__(self, port: ports.InventoryPort) -> None:
        self._port = port

    async def reserve(self, reservation_id: str, items: Sequence[StockLine], ttl_seconds: int) -> None:
        lines = [{"sku": item.sku, "quantity": item.quantity} for item in items]
        try:
            request = ReservationRequest.model_validate(
                {"reservation_id": reservation_id, "items": lines, "ttl_seconds": ttl_seconds}
            )
        except ValidationError as exc:
            raise _invalid("inventory", exc) from None
        try:
            with _outcomes("inventory"):
                await self._port.reserve(request)
        except Refused as exc:
            conflict = exc.__cause__
            if exc.status == 409 and isinstance(conflict, ServiceError):
                sku = conflict.extra.get("sku", getattr(conflict, "sku", None))
                available = conflict.extra.get("available", getattr(conflict, "available", None))
                raise OutOfStock(_line_index(exc.field), sku, _int_or_none(available)) from conflict
            raise

    async def commit(self, reservation_id: str) -> None:
        try:
            with _outcomes("inventory"):
                await self._port.commit(reservation_id)
        except Refused as exc:
            if exc.status in (404, 409):
                raise ReservationLost("inventory", exc.detail) from exc
            raise

    async def release(self, reservation_id: str) -> None:
        try:
            with _outcomes("inventory"):
                await self._port.release(reservation_id)
        except Refused as exc:
            # 404: the reservation never came to exist (the saga stopped before inventory stored it)
            if exc.status != 404:
                raise

    async def available(self, sku: str) -> int | None:
        try:
            with _outcomes("inventory"):
                return (await self._port.stock(sku)).available
        except Refused:
            return None


class PaymentsGateway:
    def __init__(self, port: ports.PaymentsPort) -> None:
        self._port = port

    async def charge(self, *, order_id: str, user_id: str, amount: int, currency: str, card: Card) -> Charge:
        request = ChargeRequest(
            order_id=order_id,
            user_id=user_id,
            amount=Money(amount=amount, currency=currency),
            card=CardDetails(number=card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc),
        )
        try:
            # one key per order: a retried charge (a resumed saga, a replayed request) cannot charge twice
            with _outcomes("payments"):
                return _charge(await self._port.charge(request, idempotency_key=f"order-{order_id}"))
        except (Refused, Unavailable) as exc:
            refusal = exc.__cause__
            if isinstance(refusal, PaymentRequiredError):
                raise Declined("payments", refusal.detail) from refusal
            if isinstance(refusal, ServiceError) and refusal.extra.get("reason") == REASON_PROVIDER_ERROR:
                raise ProviderFailed("payments", refusal.detail) from refusal
            raise

    async def captured(self, order_id: str) -> Charge | None:
        with _outcomes("payments"):
            page = await self._port.charges(order_id)
        for item in page.items:
            if item.status == "captured":
                return _charge(item)
        return None

    async def refund(self, charge_id: str) -> None:
        with _outcomes("payments"):
            await self._port.refund(charge_id)


def _charge(charge: ChargeContract) -> Charge:
    return Charge(id=charge.id, brand=charge.card.brand, last4=charge.card.last4)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _line_index(field: str | None) -> int | None:
    """``items[2].quantity`` (or ``body.items.2.quantity``) -> 2."""
    if not field:
        return None
    digits = "".join(ch if ch.isdigit() else " " for ch in field).split()
    return int(digits[0]) if digits else None


def gateways_over(
    *,
    cart: ports.CartPort,
    catalog: ports.CatalogPort,
    currency: ports.CurrencyPort,
    shipping: ports.ShippingPort,
    inventory: ports.InventoryPort,
    payments: ports.PaymentsPort,
) -> Gateways:
    """The saga's gateways over the services' ports (whichever adapters they are)."""
    return Gateways(
        cart=CartGateway(cart),
        catalog=CatalogGateway(catalog),
        currency=CurrencyGateway(currency),
        shipping=ShippingGateway(shipping),
        inventory=InventoryGateway(inventory),
        payments=PaymentsGateway(payments),
    )


__all__ = [
    "Card",
    "CartLine",
    "CartPort",
    "CatalogPort",
    "Charge",
    "CurrencyPort",
    "Declined",
    "GatewayError",
    "Gateways",
    "InventoryPort",
    "OutOfStock",
    "PaymentsPort",
    "ProductInfo",
    "ProviderFailed",
    "Refused",
    "ReservationLost",
    "Shipment",
    "ShippingPort",
    "StockLine",
    "Unavailable",
    "Unknown",
    "gateways_over",
]
