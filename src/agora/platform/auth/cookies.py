"""Browser sessions: the access token in a cookie, and CSRF protection for it.

API clients send ``Authorization: Bearer <access token>`` and need nothing from this module.
A browser asks identity for a cookie session instead (``POST /api/identity/login?session=cookie``,
likewise ``/refresh``) and identity sets three cookies with :func:`set_session_cookies`:

``agora_access``
    The access JWT. ``HttpOnly`` (no script can read it), ``SameSite=Lax`` (sent on top-level
    navigation from other sites, never on their sub-requests or cross-site POSTs), ``Path=/``
    (every service accepts it), ``Max-Age`` = the access-token lifetime.
``agora_refresh``
    The opaque refresh token. ``HttpOnly``, ``SameSite=Strict``, ``Path=/api/identity`` (no
    other service ever sees it), ``Max-Age`` = the refresh-token lifetime.
``agora_csrf``
    The CSRF token. *Not* ``HttpOnly``: the page's script reads it and echoes it in the
    ``X-CSRF-Token`` header. ``SameSite=Strict``, ``Path=/``, ``Max-Age`` = the refresh lifetime
    (so it is still there to protect the refresh call after the access cookie has expired).

All three are ``Secure`` when the request came over HTTPS or the platform runs outside
development and test (a production deployment is always HTTPS, usually behind a proxy that
terminates TLS, so the scheme the service sees is no evidence either way).

CSRF design (double submit, bound to the session). The CSRF token is
``base64url(HMAC-SHA256(K, jti))`` where ``jti`` is the access token's id and ``K`` is derived
from the platform's ``secret_key`` (which every service shares). It is unpredictable without the
secret, changes with every access token (so refresh rotates it), and any service can check it
without storage or a call to identity. Every unsafe request (anything but GET, HEAD, OPTIONS,
TRACE) authenticated by the ``agora_access`` cookie must carry ``X-CSRF-Token`` equal to the
``agora_csrf`` cookie *and* to the token derived from the presented access token; otherwise
403 problem+json naming ``X-CSRF-Token``. A cookie planted by a sibling subdomain, or the token
of another session, therefore does not pass. Bearer-authenticated requests need no CSRF token:
a cross-site page cannot make the browser add an ``Authorization`` header.

Identity's cookie-authenticated ``/refresh`` and ``/logout`` run before (or without) a valid
access token, so they check the plain double submit (:func:`check_double_submit`); the refresh
cookie being ``SameSite=Strict`` and path-scoped is the main defence there.

The hot path stays cheap: with an ``Authorization`` header nothing here runs; without one, only
the already-parsed cookie mapping is consulted, and the HMAC is computed only for unsafe methods.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from agora.platform.http.problems import Forbidden
from agora.platform.settings import Environment, PlatformSettings

ACCESS_COOKIE = "agora_access"
REFRESH_COOKIE = "agora_refresh"
CSRF_COOKIE = "agora_csrf"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_COOKIE_PATH = "/api/identity"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_CSRF_PURPOSE = b"agora.csrf.v1"
_MAX_CSRF_LENGTH = 128


@functools.lru_cache(maxsize=8)
def _csrf_key(secret: str) -> bytes:
    # a key of its own, so a CSRF token is never also a valid cursor signature or similar
    return hmac.new(secret.encode(), _CSRF_PURPOSE, hashlib.sha256).digest()


def csrf_token_for(secret: str, token_id: str) -> str:
    """The CSRF token that belongs to the access token whose ``jti`` is ``token_id``."""
    digest = hmac.new(_csrf_key(secret), token_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _csrf_failure(detail: str) -> Forbidden:
    return Forbidden(detail, title="CSRF check failed", field=CSRF_HEADER)


def check_double_submit(request: Request) -> str:
    """The ``X-CSRF-Token`` header must be present and equal the ``agora_csrf`` cookie (403 else)."""
    header = request.headers.get(CSRF_HEADER)
    if not header:
        raise _csrf_failure(f"Cookie-authenticated changes need the {CSRF_HEADER} header (the {CSRF_COOKIE} cookie).")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or len(header) > _MAX_CSRF_LENGTH or not hmac.compare_digest(header.encode(), cookie.encode()):
        raise _csrf_failure(f"The {CSRF_HEADER} header does not match this session's {CSRF_COOKIE} cookie.")
    return header


def check_csrf(request: Request, *, secret: str, token_id: str) -> None:
    """Double submit, and the token must be the one derived from this session's access token."""
    header = check_double_submit(request)
    if not hmac.compare_digest(header.encode(), csrf_token_for(secret, token_id).encode()):
        raise _csrf_failure(f"The {CSRF_HEADER} header does not belong to this session.")


def cookie_access_token(request: Request) -> str | None:
    """The ``agora_access`` cookie's value, if any (cheap: no cookie header, no parsing)."""
    if "cookie" not in request.headers:
        return None
    return request.cookies.get(ACCESS_COOKIE) or None


def cookies_secure(request: Request, platform: PlatformSettings) -> bool:
    return request.url.scheme == "https" or platform.environment not in (Environment.development, Environment.test)


def set_session_cookies(
    response: Response,
    *,
    access_token: str,
    access_ttl_seconds: int,
    refresh_token: str,
    refresh_ttl_seconds: int,
    csrf_token: str,
    secure: bool,
) -> None:
    """Set the three session cookies (see the module docstring for their attributes)."""
    response.set_cookie(
        ACCESS_COOKIE,
        access_token,
        max_age=access_ttl_seconds,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=refresh_ttl_seconds,
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        max_age=refresh_ttl_seconds,
        path="/",
        secure=secure,
        httponly=False,
        samesite="strict",
    )


def clear_session_cookies(response: Response, *, secure: bool) -> None:
    """Expire the three cookies (same names, paths and attributes as when they were set)."""
    cookies: tuple[tuple[str, str, bool, Literal["lax", "strict"]], ...] = (
        (ACCESS_COOKIE, "/", True, "lax"),
        (REFRESH_COOKIE, REFRESH_COOKIE_PATH, True, "strict"),
        (CSRF_COOKIE, "/", False, "strict"),
    )
    for name, path, httponly, samesite in cookies:
        response.delete_cookie(
            name,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
