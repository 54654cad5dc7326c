"""The services the checkout saga calls, as ports (one Protocol each) and their HTTP adapters.

The saga (``saga.py``) sees only these methods and the outcomes below, never HTTP; the adapters
speak the contracts of docs/architecture.md over ``context.clients(<service>)`` with the orders
service's own token (``as_service=True``), because a resumed saga has no customer token. Unit
tests drive the saga through fakes of these ports; integration tests run the real services.

What a failed call means matters more than usual here, because it decides whether money may
have moved:

* :class:`Unavailable` - the call certainly had no effect: nothing was sent (connection
  refused, circuit open) or the service answered 5xx, which rolls its transaction back;
* :class:`Unknown` - the request may have been handled (a timeout after sending): only a
  later look-up can tell, so the saga hands the order to recovery instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from agora.platform.auth.service_tokens import ServiceTokenError
from agora.platform.http.clients import ServiceClient, ServiceNotConfiguredError
from agora.platform.http.resilience import CircuitOpenError

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


# -- HTTP adapters -------------------------------------------------------------------------------


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _first_field(problem: dict[str, Any]) -> str | None:
    errors = problem.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = errors[0].get("field")
        return str(field) if field else None
    field = problem.get("field")
    return str(field) if field else None


class _Http:
    """Calls one service with the orders service's token and sorts failures into outcomes."""

    def __init__(self, service: str, clients: Callable[[str], ServiceClient]) -> None:
        self.service = service
        self._clients = clients

    async def call(self, method: str, url: str, *, answers: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        """The response; a 5xx raises :class:`Unavailable` unless listed in ``answers``."""
        try:
            client = self._clients(self.service)
            response = await client.request(method, url, as_service=True, **kwargs)
        except (
            ServiceNotConfiguredError,
            ServiceTokenError,
            CircuitOpenError,
            httpx.ConnectError,
            httpx.ConnectTimeout,
        ) as exc:
            raise Unavailable(self.service, type(exc).__name__) from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if method.upper() in ("GET", "PUT", "DELETE"):
                raise Unavailable(self.service, type(exc).__name__) from exc
            raise Unknown(self.service, type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise Unavailable(self.service, type(exc).__name__) from exc
        if response.status_code >= 500 and response.status_code not in answers:
            raise Unavailable(self.service, f"answered {response.status_code}")
        return response

    def refused(self, response: httpx.Response) -> Refused:
        problem = _problem(response)
        return Refused(self.service, response.status_code, str(problem.get("detail", "")), _first_field(problem))


class HttpCart:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("cart", clients)

    async def lines(self, user_id: str) -> list[CartLine]:
        response = await self._http.call("GET", f"/api/cart/users/{user_id}")
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise self._http.refused(response)
        body = orjson.loads(response.content)
        # sku and name are missing when the cart could not price a line; the saga re-prices anyway
        return [
            CartLine(
                product_id=item["product_id"],
                sku=item.get("sku") or "",
                name=item.get("name") or "A product in your cart",
                quantity=item["quantity"],
            )
            for item in body.get("items", [])
        ]

    async def clear(self, user_id: str) -> None:
        response = await self._http.call("DELETE", f"/api/cart/users/{user_id}")
        if response.status_code not in (200, 204, 404):
            raise self._http.refused(response)


class HttpCatalog:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("catalog", clients)

    async def product(self, product_id: str) -> ProductInfo | None:
        response = await self._http.call("GET", f"/api/catalog/products/{product_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._http.refused(response)
        body = orjson.loads(response.content)
        return ProductInfo(
            id=body["id"],
            sku=body["sku"],
            name=body["name"],
            price_amount=body["price"]["amount"],
            price_currency=body["price"]["currency"],
            active=bool(body.get("active", True)),
        )


class HttpCurrency:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("currency", clients)

    async def convert(self, amount: int, source: str, target: str) -> int:
        if source == target:
            return amount
        params = {"amount": str(amount), "from": source, "to": target}
        response = await self._http.call("GET", "/api/currency/convert", params=params)
        if response.status_code != 200:
            raise self._http.refused(response)
        converted = orjson.loads(response.content)["to"]
        if converted["currency"] != target:
            raise Refused("currency", 200, f"converted to {converted['currency']}, not {target}")
        return int(converted["amount"])


class HttpShipping:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("shipping", clients)

    async def quote(self, address: dict[str, str], items: Sequence[StockLine], currency: str) -> tuple[int, str]:
        body = {
            "address": {key: address[key] for key in ("country", "postal_code", "city", "line1")},
            "items": [{"sku": item.sku, "quantity": item.quantity} for item in items],
            "currency": currency,
        }
        response = await self._http.call("POST", "/api/shipping/quote", json=body)
        if response.status_code != 200:
            raise self._http.refused(response)
        cost = orjson.loads(response.content)["cost"]
        return int(cost["amount"]), str(cost["currency"])

    async def ship(self, order_id: str, address: dict[str, str], items: Sequence[StockLine]) -> Shipment:
        body = {
            "order_id": order_id,
            "address": address,
            "items": [{"sku": item.sku, "quantity": item.quantity} for item in items],
        }
        response = await self._http.call("POST", "/api/shipping/shipments", json=body)
        if response.status_code not in (200, 201):
            raise self._http.refused(response)
        shipment = orjson.loads(response.content)
        return Shipment(id=str(shipment["id"]), tracking_id=str(shipment["tracking_id"]))


class HttpInventory:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("inventory", clients)

    async def reserve(self, reservation_id: str, items: Sequence[StockLine], ttl_seconds: int) -> None:
        body = {
            "reservation_id": reservation_id,
            "items": [{"sku": item.sku, "quantity": item.quantity} for item in items],
            "ttl_seconds": ttl_seconds,
        }
        response = await self._http.call("POST", "/api/inventory/reservations", json=body)
        if response.status_code in (200, 201):
            return
        if response.status_code == 409:
            problem = _problem(response)
            raise OutOfStock(
                _line_index(_first_field(problem)), problem.get("sku"), _int_or_none(problem.get("available"))
            )
        raise self._http.refused(response)

    async def commit(self, reservation_id: str) -> None:
        response = await self._http.call("POST", f"/api/inventory/reservations/{reservation_id}/commit")
        if response.status_code == 200:
            return
        if response.status_code in (404, 409):
            raise ReservationLost("inventory", str(_problem(response).get("detail", "")))
        raise self._http.refused(response)

    async def release(self, reservation_id: str) -> None:
        response = await self._http.call("POST", f"/api/inventory/reservations/{reservation_id}/release")
        # 404: the reservation never came to exist (the saga stopped before inventory stored it)
        if response.status_code not in (200, 404):
            raise self._http.refused(response)

    async def available(self, sku: str) -> int | None:
        response = await self._http.call("GET", f"/api/inventory/stock/{sku}")
        if response.status_code != 200:
            return None
        return _int_or_none(orjson.loads(response.content).get("available"))


class HttpPayments:
    def __init__(self, clients: Callable[[str], ServiceClient]) -> None:
        self._http = _Http("payments", clients)

    async def charge(self, *, order_id: str, user_id: str, amount: int, currency: str, card: Card) -> Charge:
        body = {
            "order_id": order_id,
            "user_id": user_id,
            "amount": {"amount": amount, "currency": currency},
            "card": {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year, "cvc": card.cvc},
        }
        # one key per order: a retried charge (a resumed saga, a replayed request) cannot charge twice
        headers = {"Idempotency-Key": f"order-{order_id}"}
        response = await self._http.call("POST", "/api/payments/charges", json=body, headers=headers, answers=(502,))
        if response.status_code in (200, 201):
            return _charge(orjson.loads(response.content))
        problem = _problem(response)
        if response.status_code == 402:
            raise Declined("payments", str(problem.get("detail", "")))
        if response.status_code == 502:
            if problem.get("reason") == "provider_error":
                raise ProviderFailed("payments", str(problem.get("detail", "")))
            raise Unavailable("payments", "answered 502")
        raise self._http.refused(response)

    async def captured(self, order_id: str) -> Charge | None:
        response = await self._http.call("GET", "/api/payments/charges", params={"order_id": order_id})
        if response.status_code != 200:
            raise self._http.refused(response)
        body = orjson.loads(response.content)
        items = body.get("items", []) if isinstance(body, dict) else body
        for item in items:
            if item.get("status") == "captured":
                return _charge(item)
        return None

    async def refund(self, charge_id: str) -> None:
        response = await self._http.call("POST", f"/api/payments/charges/{charge_id}/refund")
        if response.status_code not in (200, 201):
            raise self._http.refused(response)


def _charge(body: dict[str, Any]) -> Charge:
    card = body.get("card") or {}
    return Charge(id=str(body["id"]), brand=card.get("brand"), last4=card.get("last4"))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _line_index(field: str | None) -> int | None:
    """``items[2].quantity`` (or ``body.items.2.quantity``) -> 2."""
    if not field:
        return None
    digits = "".join(ch if ch.isdigit() else " " for ch in field).split()
    return int(digits[0]) if digits else None


def http_gateways(clients: Callable[[str], ServiceClient]) -> Gateways:
    return Gateways(
        cart=HttpCart(clients),
        catalog=HttpCatalog(clients),
        currency=HttpCurrency(clients),
        shipping=HttpShipping(clients),
        inventory=HttpInventory(clients),
        payments=HttpPayments(clients),
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
    "http_gateways",
]
