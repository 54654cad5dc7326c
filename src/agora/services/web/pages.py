"""One page request: what every route of the web works with, as one typed dependency.

A :class:`Visit` joins the request to the web's runtime: the services on the visitor's behalf
(:attr:`Visit.backend`), the visitor (asked of identity on first use, then kept for the request),
the CSRF check and the pages drawn with the runtime's templates. Routes take it as
:data:`ThisVisit`; FastAPI makes one per request, shared by every dependency that asks for it.
The error pages, drawn by exception handlers outside any route, make their own (:func:`visit_of`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse

from agora.platform.auth.cookies import CSRF_HEADER, cookies_secure
from agora.platform.service import context_of
from agora.services.web.backend import Backend
from agora.services.web.runtime import Runtime, WebRuntime, web_runtime
from agora.services.web.session import Visitor, check_csrf, identify, remember_form_token
from agora.services.web.settings import WebSettings


class Visit:
    """The request, the web's runtime and, once asked for, the visitor."""

    def __init__(self, request: Request, runtime: WebRuntime) -> None:
        self.request = request
        self.runtime = runtime
        self.backend = Backend(request, runtime.clients, timeout=runtime.settings.backend_timeout)
        self._visitor: Visitor | None = None

    @property
    def settings(self) -> WebSettings:
        return self.runtime.settings

    @property
    def secure_cookies(self) -> bool:
        """Whether the cookies this page sets are ``Secure`` (HTTPS, or any deployed environment)."""
        return cookies_secure(self.request, self.runtime.platform)

    async def visitor(self) -> Visitor:
        """Who is looking (identity is asked once per request)."""
        if self._visitor is None:
            secret = self.runtime.platform.secret_key.get_secret_value()
            self._visitor = await identify(self.request, self.runtime.token_verifier, self.backend, secret)
        return self._visitor

    async def require_csrf(self, submitted: str | None = None) -> Visitor:
        """The visitor, when the form (or, without a field, the htmx header) carries their CSRF
        token; a 403 otherwise."""
        visitor = await self.visitor()
        token = submitted if submitted is not None else self.request.headers.get(CSRF_HEADER, "")
        check_csrf(visitor, token)
        return visitor

    def fragment(self, name: str, values: dict[str, Any]) -> str:
        """A template drawn with ``values`` alone (htmx's partial answers)."""
        return self.runtime.templates.get_template(name).render(values)

    async def render(self, name: str, values: dict[str, Any] | None = None, *, status_code: int = 200) -> HTMLResponse:
        """The page ``name`` for this request's visitor.

        Always there: ``request``, ``visitor``, ``path``, ``flashes`` (a list of ``{kind, text}``)
        and ``cart_count`` (None when unknown).
        """
        visitor = await self.visitor()
        body = self.fragment(
            name,
            {
                "request": self.request,
                "visitor": visitor,
                "path": self.request.url.path,
                "flashes": [],
                "cart_count": None,
                **(values or {}),
            },
        )
        response = HTMLResponse(body, status_code=status_code)
        response.headers["cache-control"] = "no-store" if visitor.signed_in else "no-cache"
        remember_form_token(visitor, response, secure=self.secure_cookies)
        return response


async def _visit(request: Request, runtime: Runtime) -> Visit:
    return Visit(request, runtime)


ThisVisit = Annotated[Visit, Depends(_visit)]
"""The request's :class:`Visit` (one per request)."""


def visit_of(request: Request) -> Visit:
    """A visit for code that runs outside a route's dependencies (the exception handlers)."""
    return Visit(request, web_runtime(context_of(request)))
