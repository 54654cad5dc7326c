"""Which route answers which contract model, and which routes have none (and why).

A route's contract is derived from the model it documents for its 2xx answer (``response_model``
or ``responses={2xx: {"model": ...}}``): the model itself when it is defined in
``agora.contracts``, else its nearest base class that is (a service may subclass a contract to add
fields). A route whose documented model is neither must be listed in :data:`NO_CONTRACT` with the
reason; the chassis' own routes (health and ``/admin``) are the same in every service and have none.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from agora.platform.http.app import create_service_app
from agora.platform.testing.apps import platform_for_tests
from agora.registry import service_spec
from agora.topology import SERVICE_NAMES

_PUBLIC = "a client-facing answer (browser, app or admin UI) that no other service reads: no contract"

#: (service, METHOD, path) -> why the route's 2xx answer has no contract model.
NO_CONTRACT: dict[tuple[str, str, str], str] = {
    ("identity", "POST", "/api/identity/login"): _PUBLIC + " (the client's token pair)",
    ("identity", "POST", "/api/identity/refresh"): _PUBLIC + " (the client's token pair)",
    ("identity", "POST", "/api/identity/register"): _PUBLIC + " (the new user's own profile)",
    ("identity", "GET", "/api/identity/me"): _PUBLIC + " (the user's own profile)",
    ("identity", "PATCH", "/api/identity/me"): _PUBLIC + " (the user's own profile)",
    ("identity", "GET", "/api/identity/me/addresses"): _PUBLIC + " (the address book)",
    ("identity", "POST", "/api/identity/me/addresses"): _PUBLIC + " (the address book)",
    ("identity", "GET", "/api/identity/me/addresses/{address_id}"): _PUBLIC + " (the address book)",
    ("identity", "PATCH", "/api/identity/me/addresses/{address_id}"): _PUBLIC + " (the address book)",
    ("identity", "GET", "/api/identity/users"): _PUBLIC + " (admin user list)",
    ("identity", "PATCH", "/api/identity/users/{user_id}"): _PUBLIC + " (admin user edit)",
    ("identity", "POST", "/api/identity/service-tokens"): "platform plumbing: the service client "
    "(agora.platform.auth) reads it, typed by the platform, not a service contract",
    ("identity", "GET", "/api/identity/internal/revocations"): "platform plumbing: its model is "
    "agora.platform.auth.revocations.Revocations, which every service's token check reads",
    ("catalog", "GET", "/api/catalog/products"): _PUBLIC + " (browse/search page; services read products by id)",
    ("catalog", "GET", "/api/catalog/categories"): _PUBLIC + " (category tree for the shop)",
    ("catalog", "GET", "/api/catalog/categories/{slug}"): _PUBLIC + " (category tree for the shop)",
    ("catalog", "POST", "/api/catalog/categories"): _PUBLIC + " (admin category edit)",
    ("catalog", "PATCH", "/api/catalog/categories/{slug}"): _PUBLIC + " (admin category edit)",
    ("inventory", "GET", "/api/inventory/stock"): _PUBLIC + " (admin stock page of StockLevel rows)",
    ("inventory", "GET", "/api/inventory/stock/all"): _PUBLIC + " (admin stock page of StockLevel rows)",
    ("shipping", "GET", "/api/shipping/shipments"): _PUBLIC + " (admin page of Shipment rows)",
    ("orders", "GET", "/api/orders"): _PUBLIC + " (the shopper's order history page of Order rows)",
    ("notifications", "POST", "/api/notifications/read-all"): _PUBLIC + " (a count for the bell icon)",
    ("ads", "GET", "/api/ads/all"): _PUBLIC + " (admin page of Ad rows)",
    ("analytics", "POST", "/api/analytics/events"): _PUBLIC + " (the browser's beacon acknowledgement)",
    ("analytics", "GET", "/api/analytics/orders/summary"): _PUBLIC + " (admin dashboard figures)",
    ("analytics", "POST", "/api/analytics/ml/predict"): _PUBLIC + " (admin ML demo)",
    ("analytics", "POST", "/api/analytics/ml/analyze"): _PUBLIC + " (admin ML demo)",
    ("media", "POST", "/api/media/images"): _PUBLIC + " (the uploader's image metadata; services "
    "exchange ImageLookup/ImageRefs)",
    ("media", "GET", "/api/media/images"): _PUBLIC + " (admin/owner image list)",
    ("media", "GET", "/api/media/images/{image_id}/meta"): _PUBLIC + " (the owner's image metadata)",
}


def _chassis_route(path: str, service: str) -> bool:
    return path == "/healthz" or path.startswith(f"/api/{service}/admin/")


@dataclass(frozen=True)
class ContractRoute:
    service: str
    method: str
    path: str
    status: str
    contract: type[BaseModel]

    @property
    def id(self) -> str:
        return f"{self.service}:{self.method}:{self.path}:{self.status}"


def contract_of(model: Any) -> type[BaseModel] | None:
    """The model itself if it is a contract, else its nearest contract base class, else None."""
    for cls in getattr(model, "__mro__", ()):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__.startswith("agora.contracts."):
            return cls
    return None


def _documented_models(route: Any) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for status, response in (route.responses or {}).items():
        if str(status).startswith("2") and isinstance(response, dict) and "model" in response:
            models[str(status)] = response["model"]
    if route.response_model is not None:
        models.setdefault(str(route.status_code or 200), route.response_model)
    return models


@cache
def service_app(service: str) -> FastAPI:
    """The service's bare app (no lifespan: documents and routes need none)."""
    return create_service_app(service_spec(service), platform_for_tests(Path(tempfile.mkdtemp(prefix="contracts-"))))


@cache
def openapi_document(service: str) -> dict[str, Any]:
    return service_app(service).openapi()


def classify(service: str) -> tuple[list[ContractRoute], list[str]]:
    """The service's contract routes, and the problems: routes neither mapped nor listed."""
    found: list[ContractRoute] = []
    problems: list[str] = []
    # FastAPI 0.16x keeps an included router as one entry of app.routes: its route contexts are the
    # flat list the OpenAPI document is built from (each with its full path)
    for route in iter_route_contexts(service_app(service).routes):
        path = str(route.path_format)
        if not isinstance(route.original_route, APIRoute) or _chassis_route(path, service):
            continue
        for method in sorted(route.methods or ()):
            key = (service, method, path)
            models = _documented_models(route)
            typed = {status: contract_of(model) for status, model in models.items()}
            found += [ContractRoute(service, method, path, s, c) for s, c in typed.items() if c is not None]
            if any(c is not None for c in typed.values()):
                if key in NO_CONTRACT:
                    problems.append(f"{key} answers a contract model but is listed in NO_CONTRACT")
            elif models and key not in NO_CONTRACT:
                problems.append(f"{key} documents {list(models.values())}: no contract and no reason listed")
    return found, problems


def all_contract_routes() -> list[ContractRoute]:
    return [route for service in SERVICE_NAMES for route in classify(service)[0]]
