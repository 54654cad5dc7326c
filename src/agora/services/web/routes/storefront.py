"""The storefront: home, categories, search, product pages, cart and checkout.

Every page is drawn from several services and degrades part by part: a service that is down
leaves its box saying so (``Backend.get`` answers ``UNAVAILABLE``) and the rest of the page works.

The anonymous cart: the cart service hands out a cart id on the first write; the web keeps it in
its own HttpOnly ``agora_cart`` cookie and names it to the cart service in ``X-Cart-Id`` (the
services see the visitor's token, never their cookies). Logging in or registering merges it into
the user's cart (``POST /api/cart/merge``, :func:`merge_anonymous_cart`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import structlog
from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agora.contracts.cart import CART_COOKIE, CART_ID_HEADER
from agora.contracts.shipping import COUNTRY_CODES
from agora.services.web.backend import CALL_FAILURES, UNAVAILABLE, Backend, problem_detail
from agora.services.web.pages import ThisVisit, Visit
from agora.services.web.session import CSRF_FIELD, CURRENCY_COOKIE, SUPPORTED_CURRENCIES, Visitor, login_redirect

router = APIRouter()
log = structlog.get_logger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SORTS = {"": "Best match", "newest": "Newest", "price_asc": "Price: low to high", "price_desc": "Price: high to low"}
SORTS["name"] = "Name"
#: how many earlier pages a listing remembers for its "Previous" link
_TRAIL = 10
_CART_TTL = 30 * 24 * 3600
#: the catalog's prices are in this currency; price filters are typed in it
CATALOG_CURRENCY = "USD"
LOW_STOCK = 5
#: the checkout's country list (the codes shipping ships to); the page's script names them in the
#: shopper's language with the browser's Intl.DisplayNames, so no table of names is kept here
COUNTRIES = tuple(sorted(COUNTRY_CODES))
TEST_CARDS = (
    ("4242 4242 4242 4242", "pays"),
    ("4000 0000 0000 0002", "is declined"),
    ("4000 0000 0000 0119", "fails with a provider error"),
)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://…`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- the cart, anonymous or not ----------------------------------------------------------------


def anonymous_cart_id(request: Request) -> str | None:
    value = request.cookies.get(CART_COOKIE, "").strip().lower()
    return value if is_uuid(value) else None


def cart_headers(request: Request, visitor: Visitor) -> dict[str, str]:
    """``X-Cart-Id`` for an anonymous visitor who has a cart (a signed-in one is known by token)."""
    cart_id = None if visitor.signed_in else anonymous_cart_id(request)
    return {CART_ID_HEADER: cart_id} if cart_id else {}


def remember_cart(visit: Visit, response: Response, cart_id: str | None) -> None:
    if cart_id and is_uuid(cart_id) and cart_id != anonymous_cart_id(visit.request):
        response.set_cookie(
            CART_COOKIE,
            cart_id,
            max_age=_CART_TTL,
            path="/",
            httponly=True,
            samesite="lax",
            secure=visit.secure_cookies,
        )


def forget_cart(visit: Visit, response: Response) -> None:
    response.delete_cookie(
        CART_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=visit.secure_cookies,
    )


async def merge_anonymous_cart(visit: Visit, access_token: str | None, response: Response) -> None:
    """After a login: the anonymous cart's lines go into the user's cart, and the cookie goes."""
    cart_id = anonymous_cart_id(visit.request)
    if cart_id is None or not access_token:
        return
    merged = await visit.backend.send(
        "cart",
        "POST",
        "/api/cart/merge",
        json={"cart_id": cart_id},
        headers={"authorization": f"Bearer {access_token}"},
    )
    # merged (or the anonymous cart expired meanwhile): the cookie has done its job
    if merged is not UNAVAILABLE and isinstance(merged, httpx.Response) and merged.status_code < 500:
        forget_cart(visit, response)


async def load_cart(visit: Visit, visitor: Visitor) -> Any:
    """The visitor's cart (a ``Cart`` document), an empty one, or UNAVAILABLE."""
    headers = cart_headers(visit.request, visitor)
    if not visitor.signed_in and not headers:
        return {"id": None, "items": [], "subtotal": None, "item_count": 0, "pricing": "ok"}
    try:
        response = await visit.backend.request("cart", "GET", "/api/cart", headers=headers)
    except CALL_FAILURES:
        return UNAVAILABLE
    if response.status_code == 400:  # a cart id the cart no longer accepts: start afresh
        return {"id": None, "items": [], "subtotal": None, "item_count": 0, "pricing": "ok"}
    if response.status_code >= 400:
        return UNAVAILABLE
    return response.json()


async def cart_count(visit: Visit, visitor: Visitor | None = None) -> int | None:
    cart = await load_cart(visit, visitor or await visit.visitor())
    return cart.get("item_count") if isinstance(cart, dict) else None


async def page(visit: Visit, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """``render`` with the header's cart count (unless the page already knows it)."""
    if "cart_count" not in context:
        context = {**context, "cart_count": await cart_count(visit)}
    return await visit.render(name, context, status_code=status_code)


# -- prices in the visitor's currency ----------------------------------------------------------


async def convert_prices(backend: Backend, prices: Iterable[Any], currency: str) -> dict[tuple[int, str], Any]:
    """Each distinct price converted once, concurrently; a price that could not be converted is left out."""
    wanted = sorted(
        {
            (price["amount"], price["currency"])
            for price in prices
            if isinstance(price, dict) and price.get("currency") != currency
        }
    )

    async def one(amount: int, source: str) -> Any:
        answer = await backend.get(
            "currency", "/api/currency/convert", params={"amount": amount, "from": source, "to": currency}
        )
        return answer.get("to") if isinstance(answer, dict) else None

    results = await asyncio.gather(*(one(amount, source) for amount, source in wanted))
    return {key: value for key, value in zip(wanted, results, strict=True) if value}


def shown(price: Any, converted: dict[tuple[int, str], Any]) -> Any:
    """The price to show: converted when the currency service answered, the catalog's otherwise."""
    if not isinstance(price, dict):
        return price
    return converted.get((price["amount"], price["currency"]), price)


async def price_products(backend: Backend, products: list[dict[str, Any]], currency: str) -> None:
    """Adds ``shown_price`` to each product (in place)."""
    converted = await convert_prices(backend, (p.get("price") for p in products), currency)
    for product in products:
        product["shown_price"] = shown(product.get("price"), converted)


# -- home, categories, search -----------------------------------------------------------------


#: the home page's featured grid: two full rows of four on a desk, four of two on a phone
FEATURED = 8
#: the recommendations row under it
SUGGESTED = 4


@router.get("/")
async def home(visit: ThisVisit) -> Response:
    backend = visit.backend
    visitor = await visit.visitor()
    categories, bestsellers, suggested, count = await asyncio.gather(
        backend.get("catalog", "/api/catalog/categories", params={"limit": 50}),
        backend.get("catalog", "/api/catalog/products", params={"limit": 100, "tag": "bestseller"}),
        _suggested(backend, visitor),
        cart_count(visit, visitor),
    )
    featured: Any = bestsellers
    pictures: dict[str, str] = {}
    if isinstance(bestsellers, dict):
        spread = _across_categories(bestsellers["items"])
        featured = {"items": spread[:FEATURED]}
        # each category's tile shows its last bestseller: one the featured grid does not show
        for product in bestsellers["items"]:
            if product.get("images"):
                pictures[product["category"]["slug"]] = product["images"][0]
        await price_products(backend, [*featured["items"], *suggested.get("items", ())], visitor.currency)
    ads = await backend.get("ads", "/api/ads", params={"limit": 1})
    context = {
        "categories": categories,
        "featured": featured,
        "pictures": pictures,
        "suggested": suggested,
        "ads": _safe_ads(ads),
        "cart_count": count,
    }
    return await visit.render("store/home.html", context)


def _across_categories(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Products taken in turn from each category (the catalog lists a category's together), so the
    featured grid shows the shop's range instead of four tennis rackets."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for product in products:
        by_category.setdefault(product["category"]["slug"], []).append(product)
    queues = list(by_category.values())
    spread: list[dict[str, Any]] = []
    while any(queues):
        spread.extend(queue.pop(0) for queue in queues if queue)
    return spread


async def _suggested(backend: Backend, visitor: Visitor) -> dict[str, Any]:
    """The row under the featured grid: what the customer's orders suggest, or the newest products."""
    if visitor.signed_in:
        answer = await backend.get("recommendations", "/api/recommendations/me", params={"limit": SUGGESTED})
        ids = [str(i.get("product_id", "")) for i in answer.get("items", ())] if isinstance(answer, dict) else []
        found = await asyncio.gather(*(backend.get("catalog", f"/api/catalog/products/{i}") for i in ids if is_uuid(i)))
        products = [product for product in found if isinstance(product, dict)]
        if products:
            return {"title": "Picked for you", "items": products}
    newest = await backend.get("catalog", "/api/catalog/products", params={"limit": 100, "tag": "new-arrival"})
    items = _across_categories(newest["items"])[-SUGGESTED:] if isinstance(newest, dict) else []
    return {"title": "New arrivals", "items": items}


def _minor(text: str) -> int | None:
    value = Decimal(text.strip().replace(",", ""))
    if not value.is_finite() or value < 0 or value > 10_000_000:
        raise ValueError
    return int((value * 100).to_integral_value())


def _filters(request: Request) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(catalog query params, the form's values as typed, errors per field) from the page's query."""
    query = request.query_params
    typed = {name: query.get(name, "").strip()[:200] for name in ("q", "min_price", "max_price", "tag", "sort")}
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if typed["q"]:
        params["q"] = typed["q"]
    for name in ("min_price", "max_price"):
        if typed[name]:
            try:
                params[name] = _minor(typed[name])
            except (InvalidOperation, ValueError):
                errors[name] = "Enter a price like 25 or 19.99."
    if "min_price" in params and "max_price" in params and params["min_price"] > params["max_price"]:
        errors["max_price"] = "The highest price must not be below the lowest."
    if typed["tag"]:
        if _TAG.match(typed["tag"]):
            params["tag"] = typed["tag"]
        else:
            errors["tag"] = "Pick a tag from the list."
    if typed["sort"]:
        if typed["sort"] in SORTS:
            params["sort"] = typed["sort"]
        else:
            errors["sort"] = "Pick an order from the list."
    return params, typed, errors


def _page_links(request: Request, next_cursor: str | None) -> tuple[str | None, str | None]:
    """The "Previous" and "Next" links: a cursor per page, and a trail of the earlier pages' cursors."""
    cursor = request.query_params.get("cursor") or ""
    trail = [c for c in request.query_params.get("trail", "").split(",") if c and _CURSOR.match(c)][-_TRAIL:]
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "trail")]

    def link(target: str | None, path: list[str]) -> str:
        items = [*kept]
        if target:
            items.append(("cursor", target))
        if path:
            items.append(("trail", ",".join(path)))
        return f"{request.url.path}?{urlencode(items)}" if items else request.url.path

    previous = None
    if cursor:
        previous = link(trail[-1], trail[:-1]) if trail else link(None, [])
    following = link(next_cursor, [*trail, cursor][-_TRAIL:] if cursor else []) if next_cursor else None
    return previous, following


async def _listing(visit: Visit, *, template: str, extra: dict[str, Any], category: str | None = None) -> Response:
    backend = visit.backend
    visitor = await visit.visitor()
    params, typed, errors = _filters(visit.request)
    cursor = visit.request.query_params.get("cursor") or None
    if cursor and not _CURSOR.match(cursor):
        errors["cursor"] = "That page link is not valid; here is the first page."
        cursor = None
    if category:
        params["category"] = category
    listing: Any = UNAVAILABLE
    message = None
    call = {**{k: v for k, v in params.items() if k not in errors}, "limit": _page_size(visit)}
    if cursor:
        call["cursor"] = cursor
    answer = await backend.send("catalog", "GET", "/api/catalog/products", params=call)
    if isinstance(answer, httpx.Response):
        if answer.status_code == 200:
            listing = answer.json()
        elif 400 <= answer.status_code < 500:
            message, fields = problem_detail(answer)
            errors.update({key: value for key, value in fields.items() if key in typed or key == "cursor"})
            retry = await backend.get("catalog", "/api/catalog/products", params={"limit": _page_size(visit)})
            listing = retry
    count_task = cart_count(visit, visitor)
    if isinstance(listing, dict):
        await price_products(backend, listing["items"], visitor.currency)
    tags = sorted({tag for p in (listing or {}).get("items", ()) for tag in p.get("tags", ())} | {typed["tag"]} - {""})
    previous, following = _page_links(visit.request, listing.get("next_cursor") if isinstance(listing, dict) else None)
    context = {
        **extra,
        "listing": listing,
        "typed": typed,
        "errors": errors,
        "message": message,
        "tags": tags[:40],
        "sorts": SORTS,
        "previous_url": previous,
        "next_url": following,
        "catalog_currency": CATALOG_CURRENCY,
        "cart_count": await count_task,
    }
    return await visit.render(template, context, status_code=400 if errors else 200)


def _page_size(visit: Visit) -> int:
    return visit.settings.page_size


@router.get("/c/{slug}")
async def category_page(visit: ThisVisit, slug: str) -> Response:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", slug):
        return await page(visit, "error.html", _not_found("No such category."), status_code=404)
    category = await visit.backend.get("catalog", f"/api/catalog/categories/{slug}")
    if category is None:
        return await page(visit, "error.html", _not_found("No such category."), status_code=404)
    extra = {"category": category, "slug": slug, "action": f"/c/{slug}"}
    return await _listing(visit, template="store/listing.html", extra=extra, category=slug)


@router.get("/search")
async def search_page(visit: ThisVisit) -> Response:
    extra = {"category": None, "slug": None, "action": "/search"}
    return await _listing(visit, template="store/listing.html", extra=extra)


@router.get("/products")
async def legacy_products(request: Request) -> Response:
    """Ads stored before the demo ads pointed at real pages link to ``/products?category=…&tag=…``:
    send those shoppers to the category (or the search) with the same filters, never a 404."""
    query = request.query_params
    kept = urlencode([(k, v) for k, v in query.multi_items() if k != "category"])
    category = query.get("category", "")
    target = f"/c/{category}" if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", category) else "/search"
    return RedirectResponse(f"{target}?{kept}" if kept else target, status_code=301)


def _not_found(detail: str) -> dict[str, Any]:
    return {"status": 404, "title": "Page not found", "detail": detail}


# -- the product page --------------------------------------------------------------------------


def _safe_link(url: Any) -> bool:
    return isinstance(url, str) and (url.startswith(("https://", "http://")) or safe_next(url, "") == url)


def _safe_ads(answer: Any) -> Any:
    """Ads whose link and image are web addresses or site paths (never ``javascript:``)."""
    if not isinstance(answer, dict):
        return answer
    items = [ad for ad in answer.get("items", ()) if _safe_link(ad.get("url"))]
    for ad in items:
        if ad.get("image") and not _safe_link(ad["image"]):
            ad["image"] = None
    return {"items": items}


async def _stock(backend: Backend, sku: str) -> Any:
    level = await backend.get("inventory", f"/api/inventory/stock/{sku}", missing={"available": 0})
    if not isinstance(level, dict):
        return level
    available = int(level.get("available", 0))
    state = "out" if available <= 0 else "low" if available <= LOW_STOCK else "in"
    return {"available": available, "state": state}


async def _recommended(backend: Backend, product_id: str, currency: str) -> Any:
    answer = await backend.get("recommendations", f"/api/recommendations/products/{product_id}", params={"limit": 8})
    if not isinstance(answer, dict):
        return UNAVAILABLE if answer is UNAVAILABLE else {"bought_together": [], "similar": []}
    items = [item for item in answer.get("items", ()) if is_uuid(str(item.get("product_id", "")))][:8]
    found = await asyncio.gather(
        *(backend.get("catalog", f"/api/catalog/products/{item['product_id']}") for item in items)
    )
    products = []
    for item, product in zip(items, found, strict=True):
        if isinstance(product, dict):
            product["reason"] = item.get("reason")
            products.append(product)
    await price_products(backend, products, currency)
    return {
        "bought_together": [p for p in products if p["reason"] == "bought_together"],
        "similar": [p for p in products if p["reason"] != "bought_together"],
    }


@router.get("/p/{product_id}")
async def product_page(visit: ThisVisit, product_id: str) -> Response:
    if not is_uuid(product_id):
        return await page(visit, "error.html", _not_found("No such product."), status_code=404)
    backend = visit.backend
    visitor = await visit.visitor()
    product, count = await asyncio.gather(
        backend.get("catalog", f"/api/catalog/products/{product_id}"), cart_count(visit, visitor)
    )
    if product is None:
        missing = {**_not_found("No such product."), "cart_count": count}
        return await visit.render("error.html", missing, status_code=404)
    context: dict[str, Any] = {
        "product": product,
        "cart_count": count,
        "added": visit.request.query_params.get("added"),
    }
    if not isinstance(product, dict):
        context.update(stock=UNAVAILABLE, recommendations=UNAVAILABLE, ads=UNAVAILABLE)
        return await visit.render("store/product.html", context)
    keywords = " ".join(re.findall(r"[A-Za-z0-9]+", product["name"])[:6])
    stock, recommendations, ads, converted = await asyncio.gather(
        _stock(backend, product["sku"]),
        _recommended(backend, product_id, visitor.currency),
        backend.get("ads", "/api/ads", params={"category": product["category"]["slug"], "keywords": keywords}),
        convert_prices(backend, [product["price"]], visitor.currency),
    )
    product["shown_price"] = shown(product["price"], converted)
    context.update(stock=stock, recommendations=recommendations, ads=_safe_ads(ads))
    return await visit.render("store/product.html", context)


# -- the cart ----------------------------------------------------------------------------------


async def _cart_context(visit: Visit, visitor: Visitor, cart: Any) -> dict[str, Any]:
    backend = visit.backend
    total = None
    lines = cart.get("items", ()) if isinstance(cart, dict) else ()
    converted, pictures = await asyncio.gather(
        convert_prices(backend, [cart["subtotal"]] if lines and cart.get("subtotal") else [], visitor.currency),
        _pictures(backend, [line["product_id"] for line in lines]),
    )
    if lines and cart.get("subtotal"):
        total = shown(cart["subtotal"], converted)
    count = cart.get("item_count") if isinstance(cart, dict) else None
    return {"cart": cart, "shown_subtotal": total, "cart_count": count, "pictures": pictures}


async def _pictures(backend: Backend, product_ids: list[str]) -> dict[str, str]:
    """Each cart line's first picture (the cart keeps no pictures; a cart holds a few lines)."""
    found = await asyncio.gather(
        *(backend.get("catalog", f"/api/catalog/products/{product_id}") for product_id in product_ids)
    )
    return {
        product_id: product["images"][0]
        for product_id, product in zip(product_ids, found, strict=True)
        if isinstance(product, dict) and product.get("images")
    }


@router.get("/cart")
async def cart_page(visit: ThisVisit) -> Response:
    visitor = await visit.visitor()
    cart = await load_cart(visit, visitor)
    return await visit.render("store/cart.html", {**await _cart_context(visit, visitor, cart), "error": None})


async def _cart_change(
    visit: Visit, csrf_token: str, method: str, path: str, body: dict[str, Any] | None, back: str
) -> Response:
    visitor = await visit.require_csrf(csrf_token)
    headers = cart_headers(visit.request, visitor)
    answer = await visit.backend.send("cart", method, path, json=body, headers=headers)
    error = None
    cart: Any = UNAVAILABLE
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        error = "The cart is unavailable right now; try again in a moment."
    elif answer.status_code >= 400:
        error = problem_detail(answer)[0]
        cart = await load_cart(visit, visitor)
    else:
        cart = answer.json()
    if is_htmx(visit.request):
        response: Response = await _cart_fragment(visit, visitor, cart, error, back)
    elif error is not None:
        context = {**await _cart_context(visit, visitor, cart), "error": error}
        response = await visit.render("store/cart.html", context, status_code=400 if cart else 503)
    else:
        response = RedirectResponse(back, status_code=303)
    if isinstance(cart, dict) and not visitor.signed_in:
        remember_cart(visit, response, cart.get("id"))
    return response


async def _cart_fragment(visit: Visit, visitor: Visitor, cart: Any, error: str | None, back: str) -> Response:
    """The htmx answer: the cart's body (on /cart) or a status line, and the header's count (out of band)."""
    context = {
        **await _cart_context(visit, visitor, cart),
        "error": error,
        "visitor": visitor,
        "request": visit.request,
        "oob": True,
    }
    name = "store/_cart_body.html" if back == "/cart" else "store/_added.html"
    body = visit.fragment(name, context)
    return HTMLResponse(body, status_code=200, headers={"cache-control": "no-store"})


@router.post("/cart/add")
async def cart_add(
    visit: ThisVisit,
    product_id: Annotated[str, Form(max_length=36)],
    quantity: Annotated[int, Form(ge=1, le=99)] = 1,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/cart",
) -> Response:
    back = safe_next(next, "/cart")
    body = {"product_id": product_id.lower(), "quantity": quantity}
    return await _cart_change(visit, csrf_token, "POST", "/api/cart/items", body, back)


@router.post("/cart/items/{product_id}")
async def cart_update(
    visit: ThisVisit,
    product_id: str,
    quantity: Annotated[int, Form(ge=0, le=99)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    if not is_uuid(product_id):
        await visit.require_csrf(csrf_token)
        return await page(visit, "error.html", _not_found("No such product in the cart."), status_code=404)
    if quantity == 0:
        return await _cart_change(visit, csrf_token, "DELETE", f"/api/cart/items/{product_id}", None, "/cart")
    body = {"quantity": quantity}
    return await _cart_change(visit, csrf_token, "PUT", f"/api/cart/items/{product_id}", body, "/cart")


@router.post("/cart/items/{product_id}/remove")
async def cart_remove(
    visit: ThisVisit, product_id: str, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    if not is_uuid(product_id):
        await visit.require_csrf(csrf_token)
        return await page(visit, "error.html", _not_found("No such product in the cart."), status_code=404)
    return await _cart_change(visit, csrf_token, "DELETE", f"/api/cart/items/{product_id}", None, "/cart")


# -- checkout ----------------------------------------------------------------------------------

_ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")
#: the orders API's field names (the last part of ``body.card.number``) → the form's
_FIELD_OF = {
    "number": "card_number",
    "card": "card_number",
    "exp_month": "expiry",
    "exp_year": "expiry",
    "shipping_address": "line1",
}
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*[/ .-]?\s*(\d{2}|\d{4})\s*$")


def card_expiry(text: str) -> dict[str, int] | None:
    """``08/29``, ``8/2029``, ``0829`` or ``08 / 29`` as ``{"exp_month": 8, "exp_year": 2029}``; None
    for anything else (whether the date has passed is the payment service's to say)."""
    found = _EXPIRY.match(text[:20])
    if not found:
        return None
    month, year = int(found.group(1)), int(found.group(2))
    if not 1 <= month <= 12:
        return None
    return {"exp_month": month, "exp_year": year + 2000 if year < 100 else year}


async def _quote(backend: Backend, cart: Any, country: str, postal_code: str, currency: str) -> Any:
    """The shipping quote in ``currency`` (None without an address; UNAVAILABLE when shipping is down)."""
    if not (isinstance(cart, dict) and cart.get("items") and re.fullmatch(r"[A-Z]{2}", country) and postal_code):
        return None
    items = [{"sku": line["sku"], "quantity": line["quantity"]} for line in cart["items"] if line.get("sku")]
    if not items:
        return None
    answer = await backend.send(
        "shipping",
        "POST",
        "/api/shipping/quote",
        json={"address": {"country": country, "postal_code": postal_code}, "items": items},
    )
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        return UNAVAILABLE
    if answer.status_code >= 400:
        return {"error": problem_detail(answer)[0]}
    quote = answer.json()
    converted = await convert_prices(backend, [quote["cost"]], currency)
    return {**quote, "shown_cost": shown(quote["cost"], converted)}


def _chosen_currency(form: dict[str, str], visitor: Visitor) -> str:
    """The currency the checkout form asks for if the shop supports it, else the visitor's."""
    chosen = form.get("currency", "")
    return chosen if chosen in SUPPORTED_CURRENCIES else visitor.currency


def _address_from(form: dict[str, str], addresses: Any) -> dict[str, str]:
    chosen = form.get("address_id", "new")
    if chosen != "new" and isinstance(addresses, dict):
        for address in addresses.get("items", ()):
            if address["id"] == chosen:
                line1 = address["line1"] + (f", {address['line2']}" if address.get("line2") else "")
                return {
                    "name": address["recipient"],
                    "line1": line1,
                    "city": address["city"],
                    "postal_code": address["postal_code"],
                    "country": address["country"],
                }
    return {name: form.get(name, "").strip() for name in _ADDRESS_FIELDS}


async def _checkout_page(
    visit: Visit,
    visitor: Visitor,
    form: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    backend = visit.backend
    cart, addresses = await asyncio.gather(
        load_cart(visit, visitor), backend.get("identity", "/api/identity/me/addresses")
    )
    currency = _chosen_currency(form, visitor)
    if "address_id" not in form and isinstance(addresses, dict) and addresses.get("items"):
        form = {**form, "address_id": addresses["items"][0]["id"]}
    address = _address_from(form, addresses)
    quote, cart_context = await asyncio.gather(
        _quote(backend, cart, address["country"].upper(), address["postal_code"], currency),
        _cart_context(visit, visitor, cart),
    )
    context = {
        **cart_context,
        "addresses": addresses,
        "form": form,
        "currency": currency,
        "quote": quote,
        "errors": errors or {},
        "error": error,
        "idempotency_key": str(uuid.uuid4()),
        "test_cards": TEST_CARDS,
        "countries": COUNTRIES,
    }
    return await visit.render("store/checkout.html", context, status_code=status_code)


@router.get("/checkout")
async def checkout_page(visit: ThisVisit) -> Response:
    visitor = await visit.visitor()
    if not visitor.signed_in:
        # a guest checks out with an email alone (routes/account.py: /checkout/guest); or logs in
        context: dict[str, Any] = {"email": "", "name": "", "errors": {}, "error": None}
        return await page(visit, "store/checkout_start.html", context)
    chosen = visit.request.query_params.get("address_id")
    return await _checkout_page(visit, visitor, {"address_id": chosen[:40]} if chosen else {})


@router.get("/checkout/quote")
async def checkout_quote(visit: ThisVisit) -> Response:
    """The shipping quote box for the address being typed (htmx)."""
    visitor = await visit.visitor()
    if not visitor.signed_in:
        return HTMLResponse("", status_code=401)
    backend = visit.backend
    cart, addresses = await asyncio.gather(
        load_cart(visit, visitor), backend.get("identity", "/api/identity/me/addresses")
    )
    form = {key: value[:100] for key, value in visit.request.query_params.items()}
    currency = _chosen_currency(form, visitor)
    address = _address_from(form, addresses)
    quote = await _quote(backend, cart, address["country"].upper(), address["postal_code"], currency)
    body = visit.fragment("store/_quote.html", {"quote": quote})
    return HTMLResponse(body, headers={"cache-control": "no-store"})


@router.post("/checkout")
async def checkout_submit(visit: ThisVisit) -> Response:
    raw = await visit.request.form()
    form = {key: str(value)[:200] for key, value in raw.items() if isinstance(value, str)}
    visitor = await visit.require_csrf(form.get(CSRF_FIELD, ""))
    if not visitor.signed_in:
        return login_redirect("/checkout")
    backend = visit.backend
    addresses = await backend.get("identity", "/api/identity/me/addresses")
    address = _address_from(form, addresses)
    expiry = card_expiry(form.get("expiry", ""))
    errors = _checkout_errors(form, address, expiry)
    address["country"] = address["country"].upper()
    key = form.get("idempotency_key", "")
    currency = form.get("currency", "")
    safe_form = {k: v for k, v in form.items() if k not in ("card_number", "cvc", CSRF_FIELD)}
    if errors:
        message = "Check the fields marked below."
        return await _checkout_page(visit, visitor, safe_form, errors=errors, error=message, status_code=422)
    body = {
        "currency": currency,
        "shipping_address": address,
        "card": {"number": form["card_number"].strip(), "cvc": form["cvc"].strip(), **(expiry or {})},
    }
    answer = await backend.send("orders", "POST", "/api/orders/checkout", json=body, headers={"Idempotency-Key": key})
    if not isinstance(answer, httpx.Response) or (answer.status_code >= 500 and answer.status_code != 502):
        message = "Checkout is unavailable right now; no order was placed. Try again in a moment."
        return await _checkout_page(visit, visitor, safe_form, error=message, status_code=503)
    if answer.status_code in (200, 201):
        order = answer.json()
        if form.get("address_id", "new") == "new" and form.get("save_address") == "on":
            await _save_address(backend, address)
        return RedirectResponse(f"/account/orders/{order['id']}?placed=1", status_code=303)
    message, fields = problem_detail(answer)
    errors = {_FIELD_OF.get(name, name): text for name, text in fields.items()}
    message, status = _refusal_message(answer.status_code, message), answer.status_code
    return await _checkout_page(visit, visitor, safe_form, errors=errors, error=message, status_code=status)


def _checkout_errors(form: dict[str, str], address: dict[str, str], expiry: dict[str, int] | None) -> dict[str, str]:
    """What the checkout form left out or got wrong, by field (empty when it can be sent)."""
    errors = {name: "Fill this in." for name in _ADDRESS_FIELDS if not address[name]}
    if expiry is None:
        errors["expiry"] = "Enter the expiry date as on the card, month and year: MM/YY, like 08/29."
    for name in ("card_number", "cvc"):
        if not form.get(name, "").strip():
            errors[name] = "Fill this in."
    if not is_uuid(form.get("idempotency_key", "")):
        errors["idempotency_key"] = "The form has expired; check the details and place the order again."
    if form.get("currency", "") not in SUPPORTED_CURRENCIES:
        errors["currency"] = "Pick a currency from the list."
    return errors


def _refusal_message(status: int, message: str) -> str:
    """The checkout page's words for an order the payment refused (402) or could not take (502)."""
    if status == 402:
        declined = message.lower().startswith("your card was declined")
        reason = message if declined else f"Your card was declined: {message.rstrip('.')}."
        return f"{reason} No payment was taken; try another card."
    if status == 502:
        return f"The payment provider failed: {message.rstrip('.')}. No payment was taken; try again."
    return message


async def _save_address(backend: Backend, address: dict[str, str]) -> None:
    """The order's new address into the address book, offered at the next checkout; the order is
    placed either way, so a refusal (an address book that is full, identity down) is only logged."""
    body = {
        "recipient": address["name"],
        "line1": address["line1"],
        "city": address["city"],
        "postal_code": address["postal_code"],
        "country": address["country"],
    }
    answer = await backend.send("identity", "POST", "/api/identity/me/addresses", json=body)
    if not isinstance(answer, httpx.Response) or answer.status_code >= 400:
        log.warning("address_not_saved", status=getattr(answer, "status_code", None))


# -- the currency picker -----------------------------------------------------------------------


@router.post("/currency")
async def choose_currency(
    visit: ThisVisit,
    currency: Annotated[str, Form(max_length=3)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    await visit.require_csrf(csrf_token)
    response = RedirectResponse(safe_next(next), status_code=303)
    if currency in SUPPORTED_CURRENCIES:
        secure = visit.secure_cookies
        response.set_cookie(
            CURRENCY_COOKIE, currency, max_age=365 * 24 * 3600, path="/", samesite="lax", httponly=True, secure=secure
        )
    return response
