"""The ports: how one service calls another, typed with the contract models.

Each Protocol is one callee's operations as its callers use them, in the contracts' terms (a
:class:`~agora.contracts.catalog.Product`, a :class:`~agora.contracts.inventory.Reservation` ...),
never HTTP. Two adapters implement each (:mod:`agora.platform.peers` picks one at start-up):

* HTTP (:mod:`agora.contracts.http`): the callee's route over a ``ServiceClient``, with the
  chassis's resilience policy and the caller's service token (distributed mode);
* direct (``agora.services.<callee>.port``): the callee's application layer in this process, with
  its own sessions, the same role check as its route and the same errors (embedded mode).

Both raise the same exceptions, so a caller cannot tell them apart:

* the callee's refusal: the :class:`~agora.platform.errors.ServiceError` subclass of its status
  (:class:`~agora.platform.errors.NotFoundError` for a 404, ``ConflictError`` for a 409 ...),
  ``field`` and the problem's extra members (``sku``, ``available``, ``reason`` ...) kept;
* :class:`~agora.platform.peers.PeerUnavailable`: the call certainly had no effect;
* :class:`~agora.platform.peers.PeerOutcomeUnknown`: it may have (sent, then no answer).

``tests/contracts/test_ports.py`` runs every operation through both adapters.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agora.contracts.cart import Cart
from agora.contracts.catalog import Money, Product
from agora.contracts.currency import Conversion
from agora.contracts.identity import UserContact
from agora.contracts.inventory import Reservation, ReservationRequest, StockLevel
from agora.contracts.media import ImageLookup, ImageRefs
from agora.contracts.payments import Charge, ChargePage, ChargeRequest
from agora.contracts.shipping import Quote, QuoteRequest, Shipment, ShipmentRequest


@runtime_checkable
class CartPort(Protocol):
    """The cart's internal routes (service role)."""

    async def user_cart(self, user_id: str) -> Cart:
        """``GET /api/cart/users/{user_id}``: the user's cart, priced now."""
        ...

    async def clear_user_cart(self, user_id: str) -> None:
        """``DELETE /api/cart/users/{user_id}`` (after checkout)."""
        ...


@runtime_checkable
class CatalogPort(Protocol):
    async def product(self, product_id: str) -> Product:
        """``GET /api/catalog/products/{id}``; ``NotFoundError`` when the caller may not see it
        (unknown, or withdrawn for anyone but an admin)."""
        ...


@runtime_checkable
class CurrencyPort(Protocol):
    async def convert(self, amount: Money, target: str) -> Conversion:
        """``GET /api/currency/convert``: ``amount`` in ``target``'s minor units (half to even)."""
        ...


@runtime_checkable
class ShippingPort(Protocol):
    async def quote(self, request: QuoteRequest) -> Quote:
        """``POST /api/shipping/quote`` (anyone)."""
        ...

    async def ship(self, request: ShipmentRequest) -> Shipment:
        """``POST /api/shipping/shipments`` (service or admin; the same order again: its shipment)."""
        ...


@runtime_checkable
class IdentityPort(Protocol):
    async def user_contact(self, user_id: str) -> UserContact:
        """``GET /api/identity/internal/users/{user_id}`` (service role); ``NotFoundError`` when
        the user is gone."""
        ...


@runtime_checkable
class InventoryPort(Protocol):
    async def reserve(self, request: ReservationRequest) -> Reservation:
        """``POST /api/inventory/reservations`` (service; the same id again: the existing one).
        ``ConflictError`` with ``sku`` and ``available`` when a line cannot be held."""
        ...

    async def commit(self, reservation_id: str) -> Reservation:
        """``POST .../reservations/{id}/commit``; ``ConflictError`` once released or expired."""
        ...

    async def release(self, reservation_id: str) -> Reservation:
        """``POST .../reservations/{id}/release``; ``NotFoundError`` if it never existed."""
        ...

    async def stock(self, sku: str) -> StockLevel:
        """``GET /api/inventory/stock/{sku}`` (anyone)."""
        ...


@runtime_checkable
class MediaPort(Protocol):
    async def lookup(self, request: ImageLookup) -> ImageRefs:
        """``POST /api/media/lookup`` (service or admin)."""
        ...


@runtime_checkable
class PaymentsPort(Protocol):
    async def charge(self, request: ChargeRequest, *, idempotency_key: str) -> Charge:
        """``POST /api/payments/charges``: captured, or ``PaymentRequiredError`` (declined, with
        ``reason``); the same key again answers what the first answered."""
        ...

    async def charges(self, order_id: str) -> ChargePage:
        """``GET /api/payments/charges?order_id=``: the order's charges, newest first."""
        ...

    async def refund(self, charge_id: str) -> Charge:
        """``POST /api/payments/charges/{id}/refund`` (idempotent)."""
        ...


__all__ = [
    "CartPort",
    "CatalogPort",
    "CurrencyPort",
    "IdentityPort",
    "InventoryPort",
    "MediaPort",
    "PaymentsPort",
    "ShippingPort",
]
