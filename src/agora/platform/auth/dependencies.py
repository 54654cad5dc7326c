"""Route guards: ``CurrentSubject``, ``OptionalSubject`` and ``require_role(...)``.

The verifier is the service context's (``context.token_verifier``, built by the chassis from the
platform's JWKS settings), so every service verifies the same way and tests inject their own keys.

The access token comes from ``Authorization: Bearer`` or, when that header is absent, from the
browser's ``agora_access`` session cookie; a cookie-authenticated unsafe request must also pass
the CSRF check (see :mod:`agora.platform.auth.cookies`). A malformed ``Authorization`` header is
a 401 and never falls back to the cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request

from agora.platform.auth.cookies import SAFE_METHODS, check_csrf, cookie_access_token
from agora.platform.auth.verifier import InvalidToken, Subject, TokenVerifier
from agora.platform.http.problems import Forbidden, Unauthorized, declares
from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use the Bearer authorization scheme.")
    return token.strip()


def _context(request: Request) -> ServiceContext | None:
    context: ServiceContext | None = getattr(request.state, "context", None)
    return context


async def authenticate(request: Request, verifier: TokenVerifier | None) -> Subject | None:
    """The caller from the bearer token, else the session cookie (CSRF-checked); None if neither."""
    token = _bearer(request)
    from_cookie = False
    if token is None:
        token = cookie_access_token(request)
        if token is None:
            return None
        from_cookie = True
    if verifier is None:
        raise Unauthorized("This service has no token verifier configured.")
    try:
        subject = await verifier.verify(token)
    except InvalidToken as exc:
        log.info("token_rejected", reason=str(exc), source="cookie" if from_cookie else "bearer")
        if from_cookie:
            raise Unauthorized("The session has expired; refresh it or log in again.") from None
        raise Unauthorized("The bearer token is invalid or expired.") from None
    if from_cookie and request.method not in SAFE_METHODS:
        context = _context(request)
        platform = context.platform if context is not None else None
        if platform is None:  # no secret to check a CSRF token against: refuse, never skip
            raise Forbidden("Cookie sessions are not available here; use a bearer token.")
        check_csrf(request, secret=platform.secret_key.get_secret_value(), token_id=subject.token_id)
    return subject


# a token that is sent must be valid (401); a cookie-authenticated change needs its CSRF token (403)
@declares(401, unsafe=(403,))
async def optional_subject(request: Request) -> Subject | None:
    context = _context(request)
    return await authenticate(request, context.token_verifier if context is not None else None)


@declares(401, unsafe=(403,), needs_caller=True)
async def current_subject(subject: Annotated[Subject | None, Depends(optional_subject)]) -> Subject:
    if subject is None:
        raise Unauthorized()
    return subject


def require_role(*roles: str) -> Callable[..., Awaitable[Subject]]:
    """A dependency that admits subjects holding any of ``roles`` (401 anonymous, 403 otherwise)."""

    async def guard(subject: Annotated[Subject, Depends(current_subject)]) -> Subject:
        if not subject.has_role(*roles):
            raise Forbidden(f"This needs the {' or '.join(roles)} role.")
        return subject

    guard.__name__ = f"require_{'_or_'.join(roles)}"
    return declares(401, 403)(guard)


CurrentSubject = Annotated[Subject, Depends(current_subject)]
OptionalSubject = Annotated[Subject | None, Depends(optional_subject)]
Admin = Annotated[Subject, Depends(require_role("admin"))]
ServiceCaller = Annotated[Subject, Depends(require_role("service"))]
"""Another Agora service, holding a service token (see :mod:`agora.platform.auth.service_tokens`)."""
ServiceOrAdmin = Annotated[Subject, Depends(require_role("service", "admin"))]
