"""The storefront: home, categories, search, product pages, cart and checkout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from agora.services.web.backend import Backend
from agora.services.web.session import CSRF_FIELD, CURRENCY_COOKIE, SUPPORTED_CURRENCIES, require_csrf
from agora.services.web.templating import render

router = APIRouter()


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://…`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@router.get("/")
async def home(request: Request) -> Response:
    backend = Backend(request)
    categories = await backend.get("catalog", "/api/catalog/categories", params={"limit": 50})
    featured = await backend.get("catalog", "/api/catalog/products", params={"limit": 8, "tag": "bestseller"})
    return await render(request, "store/home.html", {"categories": categories, "featured": featured})


@router.post("/currency")
async def choose_currency(
    request: Request,
    currency: Annotated[str, Form(max_length=3)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    await require_csrf(request, csrf_token)
    response = RedirectResponse(safe_next(next), status_code=303)
    if currency in SUPPORTED_CURRENCIES:
        response.set_cookie(CURRENCY_COOKIE, currency, max_age=365 * 24 * 3600, path="/", samesite="lax", httponly=True)
    return response
