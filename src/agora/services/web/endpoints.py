"""The web's routes: pages from ``routes/*``, static files, and HTML error pages.

Each part of the site is one module under ``routes`` with its own module-level ``APIRouter``
(storefront, account, admin, observability, chat); this module only joins them into the web's
``router`` and gives the app its browser-facing pieces.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from agora.platform.http.problems import ProblemError, problem_response
from agora.platform.http.security import SecurityHeaders
from agora.services.web.pages import visit_of
from agora.services.web.routes import account, admin, chat, observability, storefront
from agora.services.web.settings import WebSettings
from agora.services.web.templating import HTMX, STATIC

# pages and forms, not an API: the web's OpenAPI document lists none of them
router = APIRouter(include_in_schema=False)
for _part in (storefront, account, admin, observability, chat):
    router.include_router(_part.router)


class _CachedStatic(StaticFiles):
    """Static files with a long cache: their URLs carry a content hash (``templating.static_url``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "text/html")


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ProblemError):
        status, title, detail = exc.status, exc.title, exc.detail
    else:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        title, detail = None, getattr(exc, "detail", None)
    if not _wants_html(request):
        extra: dict[str, Any] = {}
        if isinstance(exc, ProblemError) and exc.field:
            extra["errors"] = [{"field": exc.field, "message": detail or title}]
        return problem_response(
            status, title=title, detail=str(detail) if detail else None, instance=request.url.path, **extra
        )
    titles = {403: "Not allowed", 404: "Page not found", 405: "Not allowed"}
    return await visit_of(request).render(
        "error.html",
        {"status": status, "title": titles.get(status, title or "Something went wrong"), "detail": detail},
        status_code=status,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not _wants_html(request):
        fields = [".".join(str(p) for p in e.get("loc", ())) for e in getattr(exc, "errors", list)()]
        return problem_response(422, detail=f"Check these fields: {', '.join(fields)}.", instance=request.url.path)
    return await visit_of(request).render(
        "error.html",
        {"status": 422, "title": "Check the form", "detail": "Some fields are not valid."},
        status_code=422,
    )


def configure_app(app: FastAPI) -> None:
    app.routes.append(Mount("/static/vendor/htmx", app=_CachedStatic(directory=HTMX), name="htmx"))
    app.routes.append(Mount("/static", app=_CachedStatic(directory=STATIC), name="static"))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ProblemError, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    settings = WebSettings()
    app.add_middleware(SecurityHeaders, image_origins=settings.image_origins)
