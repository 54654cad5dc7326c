"""The route guards identity uses.

Identity verifies its own access tokens with the chassis :class:`TokenVerifier`, fed from its
own database (the same JWKS it publishes) rather than from ``AGORA_JWKS_URL``: identity must not
fetch its keys over HTTP from itself, and in embedded mode the platform's JWKS is the
development key. It shares the chassis verifier's revocation list, which identity fills from its
own database (:func:`revocations_source`) and its own events, like every service. Beyond the
token, every guard loads the caller's account, so a disabled user or a demoted admin is refused
at once here, not only once their access token expires.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agora.platform.auth import Subject, TokenVerifier
from agora.platform.auth.dependencies import authenticate
from agora.platform.auth.revocations import RevocationFetcher, Revocations
from agora.platform.db import Session
from agora.platform.db.types import utcnow
from agora.platform.http.problems import Forbidden, Unauthorized, declares
from agora.platform.service import ServiceContext
from agora.services.identity.models import User
from agora.services.identity.repository import IdentityRepository
from agora.services.identity.runtime import Runtime
from agora.services.identity.service import revocations_document


def revocations_source(context: ServiceContext) -> RevocationFetcher:
    """The periodic sync's source in identity itself: its own table, not an HTTP call to itself."""

    async def fetch() -> Revocations:
        async with context.read_sessions() as session:
            rows = await IdentityRepository(session).revocations_in_force(utcnow())
        return revocations_document(list(rows))

    return fetch


@declares(401, unsafe=(403,), needs_caller=True)
async def token_subject(request: Request, runtime: Runtime) -> Subject:
    return await subject_of(request, runtime.verifier)


async def subject_of(request: Request, verifier: TokenVerifier) -> Subject:
    """The caller by the chassis rules (bearer, else the session cookie with its CSRF check),
    verified by identity's own verifier; 401 without a credential."""
    subject = await authenticate(request, verifier)
    if subject is None:
        raise Unauthorized()
    return subject


async def current_user(subject: Annotated[Subject, Depends(token_subject)], session: Session) -> User:
    user = await IdentityRepository(session).user_by_id(subject.id)
    if user is None or not user.is_active:
        raise Unauthorized("This account does not exist or is disabled.")
    return user


@declares(403)
async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    if user.role != "admin":
        raise Forbidden("This needs the admin role.")
    return user


#: The caller's active account (401 without a valid token or when disabled).
Me = Annotated[User, Depends(current_user)]
#: The caller's account, which must hold the admin role now (403 otherwise).
AdminUser = Annotated[User, Depends(current_admin)]


@declares(403)
async def service_caller(subject: Annotated[Subject, Depends(token_subject)]) -> Subject:
    """Another Agora service (a service token); 403 for any other role."""
    if not subject.has_role("service"):
        raise Forbidden("This route is for Agora services only.")
    return subject


#: Another service calling an internal route (``/internal/...``) with its service token.
ServiceCaller = Annotated[Subject, Depends(service_caller)]
