"""Route guards: ``CurrentSubject``, ``OptionalSubject`` and ``require_role(...)``.

The verifier lives in the app's lifespan state (``request.state.token_verifier``), so every
service verifies the same way and tests inject their own keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request

from agora.platform.auth.verifier import InvalidToken, Subject, TokenVerifier
from agora.platform.http.problems import Forbidden, Unauthorized

log = structlog.get_logger(__name__)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use the Bearer authorization scheme.")
    return token.strip()


async def optional_subject(request: Request) -> Subject | None:
    token = _bearer(request)
    if token is None:
        return None
    verifier: TokenVerifier | None = getattr(request.state, "token_verifier", None)
    if verifier is None:
        raise Unauthorized("This service has no token verifier configured.")
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        log.info("token_rejected", reason=str(exc))
        raise Unauthorized("The bearer token is invalid or expired.") from None


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
    return guard


CurrentSubject = Annotated[Subject, Depends(current_subject)]
OptionalSubject = Annotated[Subject | None, Depends(optional_subject)]
Admin = Annotated[Subject, Depends(require_role("admin"))]
