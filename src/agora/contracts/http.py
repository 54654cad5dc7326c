"""The HTTP adapters of the ports (:mod:`agora.contracts.ports`): each operation is its route.

Calls go through the target's ``ServiceClient`` (timeout, client span and metrics, circuit
breaker, retries for idempotent methods) as the caller's service (its service token) or as an
anonymous visitor. Failures are sorted the way every adapter sorts them:

* not sent, refused, circuit open, no token, or a 5xx that is not a designed answer (one with a
  ``reason``): :class:`~agora.platform.peers.PeerUnavailable` - it certainly had no effect (a 5xx
  rolls the target's transaction back);
* sent and then no answer (a read timeout, a dropped connection): ``PeerOutcomeUnknown`` for a
  POST, which may have been handled; ``PeerUnavailable`` for GET/PUT/DELETE, which may be retried;
* any other status than the operation's success: the ``ServiceError`` subclass of that status,
  with the problem's ``detail``, first ``field`` and extra members, as the callee raised it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from agora.contracts.cart import Cart
from agora.contracts.catalog import Money, Product
from agora.contracts.currency import Conversion
from agora.contracts.identity import UserContact
from agora.contracts.inventory import Reservation, ReservationRequest, StockLevel
from agora.contracts.media import ImageLookup, ImageRefs
from agora.contracts.payments import Charge, ChargePage, ChargeRequest
from agora.contracts.shipping import Quote, QuoteRequest, Shipment, ShipmentRequest
from agora.platform.auth.service_tokens import ServiceTokenError
from agora.platform.errors import ServiceError
from agora.platform.http.clients import ServiceNotConfiguredError
from agora.platform.http.resilience import CircuitOpenError
from agora.platform.peers import Caller, PeerOutcomeUnknown, PeerUnavailable, ServiceClientSource, error_for

M = TypeVar("M", bound=BaseModel)

#: problem members that are the document's own, not facts the callee added
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors", "field"})
_RETRYABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})


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


def refusal(service: str, response: httpx.Response) -> ServiceError:
    """The exception a non-success answer stands for (see the module's docstring)."""
    problem = _problem(response)
    status = response.status_code
    if status >= 500 and not problem.get("reason"):
        return PeerUnavailable(service, f"answered {status}")
    extra = {key: value for key, value in problem.items() if key not in _PROBLEM_MEMBERS}
    detail = str(problem.get("detail") or problem.get("title") or f"{service} answered {status}")
    return error_for(status, detail, _first_field(problem), extra)


class HttpPeer:
    """One target service over HTTP, called as ``caller``."""

    def __init__(self, service: str, clients: ServiceClientSource, caller: Caller) -> None:
        self.service = service
        self._clients = clients
        self._caller = caller

    async def call(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The response when its status is in ``ok``; otherwise raises (see the module's docstring)."""
        outgoing = dict(headers or {})
        if not self._caller.as_service:
            outgoing["authorization"] = ""  # explicitly anonymous: never the end user's token
        try:
            client = self._clients(self.service)
            response = await client.request(method, url, headers=outgoing, as_service=self._caller.as_service, **kwargs)
        except (
            ServiceNotConfiguredError,
            ServiceTokenError,
            CircuitOpenError,
            httpx.ConnectError,
            httpx.ConnectTimeout,
        ) as exc:
            raise PeerUnavailable(self.service, type(exc).__name__) from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if method.upper() in _RETRYABLE_METHODS:
                raise PeerUnavailable(self.service, type(exc).__name__) from exc
            raise PeerOutcomeUnknown(self.service, type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise PeerUnavailable(self.service, type(exc).__name__) from exc
        if response.status_code not in ok:
            raise refusal(self.service, response)
        return response

    def answer(self, model: type[M], response: httpx.Response) -> M:
        """The success body as ``model``; an answer that is not one is the callee's fault: for a
        read nothing happened (unavailable), for a write it may have (unknown)."""
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            problem = f"answered something that is not a {model.__name__}"
            if response.request.method in _RETRYABLE_METHODS:
                raise PeerUnavailable(self.service, problem) from exc
            raise PeerOutcomeUnknown(self.service, problem) from exc


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


class HttpCart:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("cart", clients, caller)

    async def user_cart(self, user_id: str) -> Cart:
        response = await self._http.call("GET", f"/api/cart/users/{user_id}")
        return self._http.answer(Cart, response)

    async def clear_user_cart(self, user_id: str) -> None:
        await self._http.call("DELETE", f"/api/cart/users/{user_id}", ok=(200, 204))


class HttpCatalog:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("catalog", clients, caller)

    async def product(self, product_id: str) -> Product:
        response = await self._http.call("GET", f"/api/catalog/products/{product_id}")
        return self._http.answer(Product, response)


class HttpCurrency:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("currency", clients, caller)

    async def convert(self, amount: Money, target: str) -> Conversion:
        params = {"amount": str(amount.amount), "from": amount.currency, "to": target}
        response = await self._http.call("GET", "/api/currency/convert", params=params)
        return self._http.answer(Conversion, response)


class HttpShipping:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("shipping", clients, caller)

    async def quote(self, request: QuoteRequest) -> Quote:
        response = await self._http.call("POST", "/api/shipping/quote", json=_body(request))
        return self._http.answer(Quote, response)

    async def ship(self, request: ShipmentRequest) -> Shipment:
        response = await self._http.call("POST", "/api/shipping/shipments", ok=(200, 201), json=_body(request))
        return self._http.answer(Shipment, response)


class HttpIdentity:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("identity", clients, caller)

    async def user_contact(self, user_id: str) -> UserContact:
        response = await self._http.call("GET", f"/api/identity/internal/users/{user_id}")
        return self._http.answer(UserContact, response)


class HttpInventory:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("inventory", clients, caller)

    async def reserve(self, request: ReservationRequest) -> Reservation:
        body = _body(request)
        response = await self._http.call("POST", "/api/inventory/reservations", ok=(200, 201), json=body)
        return self._http.answer(Reservation, response)

    async def commit(self, reservation_id: str) -> Reservation:
        response = await self._http.call("POST", f"/api/inventory/reservations/{reservation_id}/commit")
        return self._http.answer(Reservation, response)

    async def release(self, reservation_id: str) -> Reservation:
        response = await self._http.call("POST", f"/api/inventory/reservations/{reservation_id}/release")
        return self._http.answer(Reservation, response)

    async def stock(self, sku: str) -> StockLevel:
        response = await self._http.call("GET", f"/api/inventory/stock/{sku}")
        return self._http.answer(StockLevel, response)


class HttpMedia:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("media", clients, caller)

    async def lookup(self, request: ImageLookup) -> ImageRefs:
        response = await self._http.call("POST", "/api/media/lookup", json=_body(request))
        return self._http.answer(ImageRefs, response)


class HttpPayments:
    def __init__(self, clients: ServiceClientSource, caller: Caller) -> None:
        self._http = HttpPeer("payments", clients, caller)

    async def charge(self, request: ChargeRequest, *, idempotency_key: str) -> Charge:
        response = await self._http.call(
            "POST",
            "/api/payments/charges",
            ok=(200, 201),
            json=_body(request),
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._http.answer(Charge, response)

    async def charges(self, order_id: str) -> ChargePage:
        response = await self._http.call("GET", "/api/payments/charges", params={"order_id": order_id})
        return self._http.answer(ChargePage, response)

    async def refund(self, charge_id: str) -> Charge:
        response = await self._http.call("POST", f"/api/payments/charges/{charge_id}/refund", ok=(200, 201))
        return self._http.answer(Charge, response)


__all__ = [
    "HttpCart",
    "HttpCatalog",
    "HttpCurrency",
    "HttpIdentity",
    "HttpInventory",
    "HttpMedia",
    "HttpPayments",
    "HttpPeer",
    "HttpShipping",
    "refusal",
]
