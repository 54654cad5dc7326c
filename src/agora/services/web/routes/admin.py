"""The admin console: health and live charts, analytics, users, products and stock, currency
rates, messaging (outbox and dead letters) and the running configuration.

Every page needs the admin role: a support agent is sent to the support inbox, an anonymous
visitor to the login page, anyone else gets a 403 page. The services check the role again on
their side (the visitor's session token goes along), so this guard is for the pages, not the data.
Changes are POSTed forms with the CSRF field, answered by a 303 back to the page on success and by
the page with the service's problem on failure.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from agora.services.web import monitoring
from agora.services.web.backend import UNAVAILABLE, Backend, problem_detail
from agora.services.web.pages import ThisVisit, Visit
from agora.services.web.session import CSRF_FIELD, SUPPORTED_CURRENCIES, Visitor, login_redirect, this_page

router = APIRouter()

SUPPORT_INBOX = "/admin/support"
ROLES = ("customer", "support", "admin")
#: the fixed messages a redirect after a change may show (never text from the query string)
DONE = {
    "disabled": "The user is disabled; their sessions have ended.",
    "enabled": "The user is enabled again.",
    "role": "The user's role is changed.",
    "created": "The product is created.",
    "saved": "The product is saved.",
    "stock": "The stock is updated.",
    "image": "The image is uploaded and attached.",
    "rate": "The rate is updated.",
    "replayed": "The event is delivered again.",
    "fault-on": "The fault flag is on: every process of the service injects it within a second.",
    "fault-off": "The fault flag is off.",
}
NAV = (
    ("/admin", "Dashboard"),
    ("/admin/analytics", "Analytics"),
    ("/admin/users", "Users"),
    ("/admin/products", "Products"),
    ("/admin/currency", "Currency"),
    ("/admin/messaging", "Messaging"),
    ("/admin/observability", "Observability"),
    ("/admin/config", "Configuration"),
    (SUPPORT_INBOX, "Support inbox"),
)
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=200)]
ProductId = Annotated[str, Path(max_length=64)]


class _Leave(Exception):
    """Ends a request with ``response`` (a redirect away from the console)."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def _admin(visit: Visit) -> Visitor:
    visitor = await visit.visitor()
    if not visitor.signed_in:
        raise _Leave(login_redirect(this_page(visit.request), safe=""))
    if visitor.role == "support":
        raise _Leave(RedirectResponse(SUPPORT_INBOX, status_code=303))
    if not visitor.is_admin:
        raise HTTPException(403, "The admin console is for administrators.")
    return visitor


async def _page(visit: Visit, name: str, values: dict[str, Any], *, status_code: int = 200) -> Response:
    flashes = list(values.pop("flashes", []))
    done = DONE.get(visit.request.query_params.get("done", ""))
    if done:
        flashes.insert(0, {"kind": "success", "text": done})
    return await visit.render(name, {"nav": NAV, "flashes": flashes, **values}, status_code=status_code)


def _guarded(handler: Any) -> Any:
    """The route runs only for admins (a redirect or 403 page otherwise)."""

    @functools.wraps(handler)
    async def run(visit: Visit, *args: Any, **kwargs: Any) -> Response:
        try:
            await _admin(visit)
            result: Response = await handler(visit, *args, **kwargs)
        except _Leave as leave:
            return leave.response
        return result

    return run


def _back(path: str, done: str, **params: str) -> RedirectResponse:
    query = urlencode({**{k: v for k, v in params.items() if v}, "done": done})
    return RedirectResponse(f"{path}?{query}", status_code=303)


@dataclass(frozen=True)
class Refusal:
    """Why a service did not make the change: its status and problem, for the page drawn again."""

    status: int
    message: str
    fields: dict[str, str]

    def flashes(self, prefix: str = "", *, beside_fields: bool = True) -> list[dict[str, str]]:
        """The page's message; the fields' own messages are drawn next to the fields, or, on a page
        whose form has no such field (``beside_fields=False``), named in the message."""
        text = prefix + self.message
        if not beside_fields:
            text += "".join(f" {name.replace('_', ' ').capitalize()}: {error}" for name, error in self.fields.items())
        return [{"kind": "error", "text": text}]


def _refusal(response: Any, what: str) -> Refusal | None:
    """None when the service made the change; else what to tell the admin."""
    if response is UNAVAILABLE:
        return Refusal(503, f"The {what} service is unavailable right now; nothing changed.", {})
    if response.status_code < 400:
        return None
    message, fields = problem_detail(response)
    return Refusal(response.status_code, message, fields)


# -- dashboard --------------------------------------------------------------------------------


@router.get("/admin")
@_guarded
async def dashboard(visit: ThisVisit) -> Response:
    health = await visit.runtime.service_health()
    await visit.runtime.sampler.viewed()  # the sampler runs while the charts are read
    charts = _charts(visit.runtime.sampler)
    return await _page(visit, "admin/dashboard.html", {"health": health, **charts})


@router.get("/admin/partials/health")
@_guarded
async def health_partial(visit: ThisVisit) -> Response:
    health = await visit.runtime.service_health()
    return await visit.render("admin/partials/health.html", {"health": health})


@router.get("/admin/partials/charts")
@_guarded
async def charts_partial(visit: ThisVisit) -> Response:
    await visit.runtime.sampler.viewed()
    return await visit.render("admin/partials/charts.html", _charts(visit.runtime.sampler))


def _charts(sampler: monitoring.Sampler) -> dict[str, Any]:
    rates = monitoring.line_chart(
        "chart-requests", "Request rate per service", sampler.request_rates(), y_label="requests/s"
    )
    errors = monitoring.line_chart(
        "chart-errors",
        "Error rate per service (5xx share)",
        sampler.error_rates(),
        y_label="share of responses",
        fmt=lambda v: f"{v * 100:.1f}%",
        y_max=max(0.05, monitoring.nice_ceiling(max((s.latest or 0 for s in sampler.error_rates()), default=0))),
    )
    latencies = [
        monitoring.line_chart(
            f"chart-latency-{name}",
            f"{name} latency",
            sampler.latencies(name),
            y_label="seconds",
            fmt=lambda v: f"{v * 1000:.0f} ms",
        )
        for name in sampler.service_names()
    ]
    paid, revenue = sampler.orders()
    orders = monitoring.line_chart(
        "chart-orders", "Paid orders in the last minute", [paid], y_label="orders", fmt=monitoring.compact
    )
    revenue_chart = monitoring.line_chart(
        "chart-revenue",
        "Revenue in the last minute, by currency",
        revenue,
        y_label="amount",
        fmt=monitoring.compact,
    )
    return {
        "sample_count": sampler.taken,
        "interval": sampler.interval,
        "watch_minutes": sampler.watch_seconds / 60,
        "request_chart": rates,
        "error_chart": errors,
        "latency_charts": latencies,
        "orders_chart": orders,
        "revenue_chart": revenue_chart,
    }


# -- analytics --------------------------------------------------------------------------------


def _day(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def _day_label(x: float) -> str:
    return datetime.fromtimestamp(x, UTC).strftime("%d %b")


@router.get("/admin/analytics")
@_guarded
async def analytics(
    visit: ThisVisit,
    product_id: Annotated[str | None, Query(max_length=36)] = None,
    days: Annotated[int, Query(ge=7, le=366)] = 30,
) -> Response:
    backend = visit.backend
    today = datetime.now(UTC).date()
    summary = await backend.get(
        "analytics",
        "/api/analytics/orders/summary",
        params={"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()},
    )
    revenue_chart = None
    if summary:
        per_currency: dict[str, list[monitoring.Point]] = {}
        for row in summary.get("revenue_per_day", []):
            scale = 1 if row["currency"] == "JPY" else 100
            per_currency.setdefault(row["currency"], []).append((_day(row["date"]), row["amount"] / scale))
        revenue_chart = monitoring.line_chart(
            "chart-revenue-days",
            f"Revenue per day, last {days} days",
            [monitoring.Series(c, sorted(points)) for c, points in sorted(per_currency.items())],
            y_label="revenue (major units)",
            x_label="day",
            fmt="{:,.0f}".format,
            x_format=_day_label,
        )
        top = summary.get("top_products") or []
        if product_id is None and top:
            product_id = top[0].get("product_id")
    forecast_chart, forecast_error = None, ""
    if product_id:
        forecast, forecast_error = await _analytics_post(
            backend, "/api/analytics/ml/predict", {"product_id": product_id, "horizon_days": 14}, "The forecast"
        )
        if forecast is not None:
            forecast_chart = _forecast_chart(forecast)
    anomalies, anomalies_error = await _analytics_post(backend, "/api/analytics/ml/analyze", {}, "Anomaly detection")
    return await _page(
        visit,
        "admin/analytics.html",
        {
            "summary": summary,
            "days": days,
            "revenue_chart": revenue_chart,
            "product_id": product_id or "",
            "forecast_chart": forecast_chart,
            "forecast_error": forecast_error,
            "anomalies": anomalies,
            "anomalies_error": anomalies_error,
        },
    )


async def _analytics_post(backend: Backend, path: str, body: dict[str, Any], what: str) -> tuple[Any, str]:
    """(the answer, "") or (None, why there is none) for one of analytics' ML endpoints."""
    response = await backend.send("analytics", "POST", path, json=body)
    if not isinstance(response, httpx.Response) or response.status_code >= 500:
        return None, f"{what} is unavailable right now."
    if response.status_code != 200:
        return None, problem_detail(response)[0]
    return response.json(), ""


def _forecast_chart(forecast: dict[str, Any]) -> monitoring.Chart:
    rows = forecast["forecast"]

    def line(key: str, name: str) -> monitoring.Series:
        return monitoring.Series(name, [(_day(r["date"]), float(r[key])) for r in rows])

    return monitoring.line_chart(
        "chart-forecast",
        f"Demand forecast, next {len(rows)} days ({round(forecast['confidence'] * 100)}% interval shaded)",
        [line("units", "expected units")],
        bands=[(line("lower", "lower"), line("upper", "upper"))],
        y_label="units per day",
        x_label="day",
        fmt="{:.1f}".format,
        x_format=_day_label,
    )


# -- users ------------------------------------------------------------------------------------


async def _users_page(
    visit: Visit, q: str, cursor: str | None, *, flashes: list[dict[str, str]] | None = None, status_code: int = 200
) -> Response:
    params: dict[str, Any] = {"limit": 25}
    if q:
        params["email"] = q
    if cursor:
        params["cursor"] = cursor
    users = await visit.backend.get("identity", "/api/identity/users", params=params)
    return await _page(
        visit,
        "admin/users.html",
        {"users": users, "q": q, "roles": ROLES, "flashes": flashes or []},
        status_code=status_code,
    )


@router.get("/admin/users")
@_guarded
async def users(
    visit: ThisVisit,
    q: Annotated[str, Query(max_length=254)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    return await _users_page(visit, q.strip(), cursor)


@router.post("/admin/users/{user_id}")
@_guarded
async def update_user(
    visit: ThisVisit,
    user_id: Annotated[str, Path(max_length=64)],
    csrf_token: CsrfField = "",
    role: Annotated[str | None, Form(max_length=20)] = None,
    active: Annotated[str | None, Form(max_length=5)] = None,
    q: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    change: dict[str, Any] = {}
    if role is not None:
        change["role"] = role
    if active is not None:
        change["is_active"] = active == "true"
    if not change:
        return await _users_page(
            visit, q, None, flashes=[{"kind": "error", "text": "Choose a role or an action."}], status_code=422
        )
    response = await visit.backend.send("identity", "PATCH", f"/api/identity/users/{quote(user_id)}", json=change)
    refused = _refusal(response, "identity")
    if refused is not None:
        flashes = refused.flashes(beside_fields=False)
        return await _users_page(visit, q, None, flashes=flashes, status_code=refused.status)
    done = "role" if "role" in change else ("enabled" if change["is_active"] else "disabled")
    return _back("/admin/users", done, q=q)


# -- products and stock -----------------------------------------------------------------------


def _minor(price: str, currency: str) -> int | None:
    exponent = 0 if currency == "JPY" else 2
    try:
        value = Decimal(price.strip().replace(",", ""))
    except InvalidOperation:
        return None
    minor = value.scaleb(exponent)
    if not value.is_finite() or minor != minor.to_integral_value() or minor <= 0:
        return None
    return int(minor)


def _major(amount: int, currency: str) -> str:
    exponent = 0 if currency == "JPY" else 2
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


async def _stock(backend: Backend, skus: list[str]) -> Any:
    if not skus:
        return {}
    page = await backend.get("inventory", "/api/inventory/stock", params={"sku": skus})
    if not page:
        return UNAVAILABLE
    return {row["sku"]: row for row in page.get("items", [])}


@router.get("/admin/products")
@_guarded
async def products(
    visit: ThisVisit,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    backend = visit.backend
    params: dict[str, Any] = {"limit": 25}
    if q.strip():
        params["q"] = q.strip()
    if cursor:
        params["cursor"] = cursor
    page = await backend.get("catalog", "/api/catalog/products", params=params)
    stock = await _stock(backend, [p["sku"] for p in page.get("items", [])]) if page else {}
    return await _page(visit, "admin/products.html", {"page": page, "stock": stock, "q": q})


async def _form_page(
    visit: Visit,
    product: dict[str, Any] | None,
    form: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    flashes: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    backend = visit.backend
    categories = await backend.get("catalog", "/api/catalog/categories", params={"limit": 100})
    stock: Any = None
    if product is not None:
        stock = await backend.get("inventory", f"/api/inventory/stock/{quote(product['sku'])}", missing={})
    return await _page(
        visit,
        "admin/product_form.html",
        {
            "product": product,
            "form": form,
            "errors": errors or {},
            "categories": categories,
            "stock": stock,
            "flashes": flashes or [],
            "sale_currencies": SUPPORTED_CURRENCIES,
        },
        status_code=status_code,
    )


def _form_of(product: dict[str, Any]) -> dict[str, Any]:
    price = product["price"]
    return {
        "sku": product["sku"],
        "name": product["name"],
        "description": product["description"],
        "price": _major(price["amount"], price["currency"]),
        "currency": price["currency"],
        "category": (product.get("category") or {}).get("slug", ""),
        "tags": ", ".join(product.get("tags") or []),
        "active": product.get("active", True),
    }


@router.get("/admin/products/new")
@_guarded
async def new_product(visit: ThisVisit) -> Response:
    form = {"sku": "", "name": "", "description": "", "price": "", "currency": "USD", "category": "", "tags": ""}
    return await _form_page(visit, None, {**form, "active": True})


async def _load_product(visit: Visit, product_id: str) -> dict[str, Any]:
    """The product; a 404 page when there is none, the unavailable page when the catalog is down."""
    product = await visit.backend.get("catalog", f"/api/catalog/products/{quote(product_id)}")
    if product is None:
        raise HTTPException(404, "No such product.")
    if not product:
        raise _Leave(await _page(visit, "admin/unavailable.html", {"what": "The catalog"}, status_code=503))
    return dict(product)


@router.get("/admin/products/{product_id}")
@_guarded
async def edit_product(visit: ThisVisit, product_id: ProductId) -> Response:
    product = await _load_product(visit, product_id)
    return await _form_page(visit, product, _form_of(product))


def _product_body(form: dict[str, Any], *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    amount = _minor(form["price"], form["currency"])
    if amount is None:
        errors["price"] = "Enter a price above zero, e.g. 19.99."
    body: dict[str, Any] = {
        "name": form["name"].strip(),
        "description": form["description"],
        "category": form["category"],
        "tags": [t.strip().lower() for t in form["tags"].split(",") if t.strip()],
        "active": form["active"],
    }
    if amount is not None:
        body["price"] = {"amount": amount, "currency": form["currency"]}
    if creating:
        body["sku"] = form["sku"].strip().upper()
    return body, errors


Text = Annotated[str, Form(max_length=5000)]
Short = Annotated[str, Form(max_length=200)]


def _product_fields(
    name: Short,
    price: Short,
    currency: Annotated[str, Form(max_length=3)],
    category: Short,
    description: Text = "",
    tags: Short = "",
    active: Annotated[str | None, Form(max_length=3)] = None,
    sku: Short = "",
) -> dict[str, Any]:
    """The product form's fields as typed (the form is drawn again from them on an error)."""
    return {
        "sku": sku,
        "name": name,
        "description": description,
        "price": price,
        "currency": currency,
        "category": category,
        "tags": tags,
        "active": active == "on",
    }


ProductForm = Annotated[dict[str, Any], Depends(_product_fields)]


async def _save(visit: Visit, product: dict[str, Any] | None, form: dict[str, Any], method: str, path: str) -> Response:
    body, errors = _product_body(form, creating=product is None)
    if errors:
        return await _form_page(visit, product, form, errors=errors, status_code=422)
    response = await visit.backend.send("catalog", method, path, json=body)
    refused = _refusal(response, "catalog")
    if refused is not None:
        return await _form_page(
            visit, product, form, errors=refused.fields, flashes=refused.flashes(), status_code=refused.status
        )
    saved = cast(httpx.Response, response).json()
    return _back(f"/admin/products/{saved['id']}", "created" if product is None else "saved")


@router.post("/admin/products")
@_guarded
async def create_product(visit: ThisVisit, form: ProductForm, csrf_token: CsrfField = "") -> Response:
    await visit.require_csrf(csrf_token)
    return await _save(visit, None, form, "POST", "/api/catalog/products")


@router.post("/admin/products/{product_id}")
@_guarded
async def update_product(
    visit: ThisVisit, product_id: ProductId, form: ProductForm, csrf_token: CsrfField = ""
) -> Response:
    await visit.require_csrf(csrf_token)
    product = await _load_product(visit, product_id)
    return await _save(
        visit, product, {**form, "sku": product["sku"]}, "PATCH", f"/api/catalog/products/{quote(product_id)}"
    )


async def _product_refused(visit: Visit, product: dict[str, Any], refused: Refusal, prefix: str = "") -> Response:
    return await _form_page(
        visit,
        product,
        _form_of(product),
        errors=refused.fields,
        flashes=refused.flashes(prefix),
        status_code=refused.status,
    )


@router.post("/admin/products/{product_id}/stock")
@_guarded
async def set_stock(
    visit: ThisVisit,
    product_id: ProductId,
    on_hand: Annotated[str, Form(max_length=12)],
    csrf_token: CsrfField = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    product = await _load_product(visit, product_id)
    if not on_hand.strip().isdigit():
        return await _form_page(
            visit, product, _form_of(product), errors={"on_hand": "Enter a whole number of units."}, status_code=422
        )
    response = await visit.backend.send(
        "inventory", "PUT", f"/api/inventory/stock/{quote(product['sku'])}", json={"on_hand": int(on_hand)}
    )
    refused = _refusal(response, "inventory")
    if refused is not None:
        return await _product_refused(visit, product, refused)
    return _back(f"/admin/products/{product_id}", "stock")


@router.post("/admin/products/{product_id}/images")
@_guarded
async def upload_image(
    visit: ThisVisit,
    product_id: ProductId,
    file: Annotated[UploadFile, File()],
    csrf_token: CsrfField = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    product = await _load_product(visit, product_id)
    backend = visit.backend
    data = await file.read()
    files = {"file": (file.filename or "image", data, file.content_type or "application/octet-stream")}
    # a page's usual wait would cut a large image off while media still decodes it
    timeout = visit.settings.upload_timeout_for(len(data))
    response = await backend.send(
        "media", "POST", "/api/media/images", files=files, data={"purpose": "product"}, timeout=timeout
    )
    refused = _refusal(response, "media")
    if refused is not None:
        return await _product_refused(visit, product, refused, "The image was not uploaded: ")
    image_id = cast(httpx.Response, response).json()["id"]
    images = [*product.get("images", []), image_id]
    patched = await backend.send(
        "catalog", "PATCH", f"/api/catalog/products/{quote(product_id)}", json={"images": images}
    )
    refused = _refusal(patched, "catalog")
    if refused is not None:
        return await _product_refused(visit, product, refused, "The image was uploaded but not attached: ")
    return _back(f"/admin/products/{product_id}", "image")


# -- currency ---------------------------------------------------------------------------------


async def _currency_page(visit: Visit, *, refused: tuple[str, str, Refusal] | None = None) -> Response:
    """The rates; after a refused change, its message next to that currency's field, as typed."""
    rates = await visit.backend.get("currency", "/api/currency/currencies")
    context: dict[str, Any] = {"rates": rates, "flashes": [], "failed": None, "typed": "", "field_error": ""}
    status_code = 200
    if refused is not None:
        code, typed, refusal = refused
        field_error = refusal.fields.get("rate_per_usd", "")
        context.update(flashes=refusal.flashes(), failed=code, typed=typed, field_error=field_error)
        status_code = refusal.status
    return await _page(visit, "admin/currency.html", context, status_code=status_code)


@router.get("/admin/currency")
@_guarded
async def currency(visit: ThisVisit) -> Response:
    return await _currency_page(visit)


@router.post("/admin/currency/{code}")
@_guarded
async def set_rate(
    visit: ThisVisit,
    code: Annotated[str, Path(max_length=3)],
    rate_per_usd: Annotated[str, Form(max_length=40)],
    csrf_token: CsrfField = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    response = await visit.backend.send(
        "currency", "PUT", f"/api/currency/rates/{quote(code)}", json={"rate_per_usd": rate_per_usd.strip()}
    )
    refused = _refusal(response, "currency")
    if refused is not None:
        return await _currency_page(visit, refused=(code, rate_per_usd.strip(), refused))
    return _back("/admin/currency", "rate")


# -- messaging and configuration --------------------------------------------------------------


async def _per_service(visit: Visit, suffix: str) -> list[tuple[str, Any]]:
    backend = visit.backend
    names = await visit.runtime.service_names()
    answers = await asyncio.gather(*(backend.get(name, f"/api/{name}/admin/{suffix}") for name in names))
    return list(zip(names, answers, strict=True))


@router.get("/admin/messaging")
@_guarded
async def messaging(visit: ThisVisit) -> Response:
    return await _page(visit, "admin/messaging.html", {"services": await _per_service(visit, "messaging")})


@router.post("/admin/messaging/{service}/{letter_id}/replay")
@_guarded
async def replay(
    visit: ThisVisit,
    service: Annotated[str, Path(max_length=40, pattern=r"^[a-z]+$")],
    letter_id: Annotated[int, Path(ge=1)],
    csrf_token: CsrfField = "",
) -> Response:
    await visit.require_csrf(csrf_token)
    if service not in await visit.runtime.service_names():
        raise HTTPException(404, "No such service.")
    response = await visit.backend.send(service, "POST", f"/api/{service}/admin/dead-letters/{letter_id}/replay")
    refused = _refusal(response, service)
    if refused is not None:
        services = await _per_service(visit, "messaging")
        return await _page(
            visit,
            "admin/messaging.html",
            {"services": services, "flashes": refused.flashes(beside_fields=False)},
            status_code=refused.status,
        )
    return _back("/admin/messaging", "replayed")


@router.get("/admin/config")
@_guarded
async def config(visit: ThisVisit) -> Response:
    return await _page(visit, "admin/config.html", {"services": await _per_service(visit, "config")})


__all__ = ["router"]
