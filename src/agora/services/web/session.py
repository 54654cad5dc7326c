"""Who is looking at the page, and the CSRF token their forms carry.

The session itself is identity's cookie session (``agora.platform.auth.cookies``): the access JWT
in ``agora_access`` (HttpOnly), the refresh token scoped to ``/api/identity``, and ``agora_csrf``.
Every page asks identity for ``/me`` with that token, so a disabled account or a revoked
session stops working at the next page, not when the access token would have expired.

Forms carry a CSRF token in the hidden field ``csrf_token`` (htmx requests send the same value in
``X-CSRF-Token``, from the ``hx-headers`` attribute the layout puts on ``<body>``):

* signed in: the token derived from the session's access token (what ``agora_csrf`` holds), checked
  as the API services check theirs;
* anonymous (login, register, add to cart before an account): a random token in the web's own
  ``agora_form_csrf`` cookie (HttpOnly, SameSite=Strict), double-submitted.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agora.platform.auth.cookies import ACCESS_COOKIE, CSRF_COOKIE, csrf_token_for
from agora.platform.auth.verifier import InvalidToken, TokenVerifier
from agora.platform.http.problems import Forbidden
from agora.services.web.backend import Backend

FORM_CSRF_COOKIE = "agora_form_csrf"
CURRENCY_COOKIE = "agora_currency"
CSRF_FIELD = "csrf_token"
DEFAULT_CURRENCY = "USD"
SUPPORTED_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD")


@dataclass
class Visitor:
    """The page's visitor: ``user`` is identity's ``/me`` document, or None when anonymous."""

    user: dict[str, Any] | None
    csrf_token: str
    currency: str
    token_id: str | None = None
    session_expired: bool = False
    """A session cookie was there but no longer works: the page's script tries a refresh."""
    new_form_token: str | None = field(default=None, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    @property
    def role(self) -> str | None:
        return None if self.user is None else str(self.user.get("role"))

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "support")


async def identify(request: Request, verifier: TokenVerifier, backend: Backend, secret: str) -> Visitor:
    """The visitor of this request: identity's ``/me`` for a session that works, else anonymous
    (with the form token of their cookie, or a fresh one: :attr:`Visitor.new_form_token`)."""
    currency = request.cookies.get(CURRENCY_COOKIE, DEFAULT_CURRENCY)
    if currency not in SUPPORTED_CURRENCIES:
        currency = DEFAULT_CURRENCY
    visitor = await _signed_in(request, currency, verifier, backend, secret)
    if visitor is None:
        had_session = ACCESS_COOKIE in request.cookies or CSRF_COOKIE in request.cookies
        token = request.cookies.get(FORM_CSRF_COOKIE)
        fresh = None
        if not token or len(token) > 64:
            token = fresh = secrets.token_urlsafe(32)
        visitor = Visitor(
            user=None, csrf_token=token, currency=currency, session_expired=had_session, new_form_token=fresh
        )
    return visitor


async def _signed_in(
    request: Request, currency: str, verifier: TokenVerifier, backend: Backend, secret: str
) -> Visitor | None:
    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        return None
    try:
        subject = await verifier.verify(token)
    except InvalidToken:
        return None
    me = await backend.get("identity", "/api/identity/me")
    if not isinstance(me, dict):
        # disabled, revoked, or identity unreachable: nothing a page can do as this user
        return None
    return Visitor(
        user=me, csrf_token=csrf_token_for(secret, subject.token_id), currency=currency, token_id=subject.token_id
    )


def remember_form_token(visitor: Visitor, response: Response, *, secure: bool) -> None:
    """Sets the anonymous CSRF cookie when this request minted one (called on every page)."""
    if visitor.new_form_token:
        response.set_cookie(
            FORM_CSRF_COOKIE,
            visitor.new_form_token,
            max_age=24 * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )


def check_csrf(visitor: Visitor, token: str) -> None:
    """403 unless ``token`` (the form's field or the htmx header) is this visitor's CSRF token."""
    if visitor.new_form_token is not None:
        # no form cookie arrived with this request: whatever was submitted cannot match it
        raise Forbidden(
            "The form has expired; reload the page and try again.", title="CSRF check failed", field=CSRF_FIELD
        )
    if not token or not hmac.compare_digest(token.encode(), visitor.csrf_token.encode()):
        raise Forbidden(
            "The form has expired; reload the page and try again.", title="CSRF check failed", field=CSRF_FIELD
        )


def this_page(request: Request) -> str:
    """The request's path and query: where to come back to after logging in."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def login_redirect(target: str, *, safe: str = "/") -> RedirectResponse:
    """303 to the login page, which comes back to ``target`` (a site path) afterwards."""
    return RedirectResponse(f"/login?next={quote(target, safe=safe)}", status_code=303)
