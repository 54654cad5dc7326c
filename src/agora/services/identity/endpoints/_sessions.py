"""Sessions: ``POST /login``, ``/refresh`` and ``/logout``.

Browser sessions: ``POST /login?session=cookie`` (and ``/refresh?session=cookie``) answer with
the session cookies of :mod:`agora.platform.auth.cookies` instead of tokens in the body (the body
then holds ``token_type: "cookie"``, ``expires_in`` and the ``csrf_token``, which is also in the
readable ``agora_csrf`` cookie). ``/refresh`` and ``/logout`` take the refresh token from the JSON
body, or, without a body, from the ``agora_refresh`` cookie; a cookie-borne refresh or logout
must carry ``X-CSRF-Token`` (double submit), a cookie refresh always answers with rotated
cookies, and logout clears the cookies whenever the request carried any of them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import jwt
from fastapi import Query, Request
from starlette.responses import Response

from agora.platform.auth.cookies import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    check_double_submit,
    clear_session_cookies,
    cookies_secure,
    csrf_token_for,
    set_session_cookies,
)
from agora.platform.http.problems import Unauthorized, problem_response
from agora.services.identity import schemas
from agora.services.identity.auth import subject_of
from agora.services.identity.endpoints._common import Service, identity_router, private_json
from agora.services.identity.runtime import IdentityRuntime, Runtime
from agora.services.identity.service import INVALID_REFRESH, IssuedTokens
from agora.services.identity.throttle import client_address

SessionMode = Annotated[
    Literal["bearer", "cookie"],
    Query(description="`cookie`: a browser session in HttpOnly cookies instead of tokens in the body."),
]

router = identity_router()


def _session_response(request: Request, runtime: IdentityRuntime, tokens: IssuedTokens) -> Response:
    """A browser session: the tokens go into cookies, the body says only what a page needs."""
    settings, platform = runtime.settings, runtime.platform
    # our own token, minted a moment ago: only its jti is read here
    token_id = str(jwt.decode(tokens.access_token, options={"verify_signature": False})["jti"])
    csrf = csrf_token_for(platform.secret_key.get_secret_value(), token_id)
    response = private_json({"token_type": "cookie", "expires_in": tokens.expires_in, "csrf_token": csrf})
    set_session_cookies(
        response,
        access_token=tokens.access_token,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_token=tokens.refresh_token,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        csrf_token=csrf,
        secure=cookies_secure(request, platform),
    )
    return response


def _refresh_token_from(request: Request, body: schemas.RefreshIn | None) -> tuple[str, bool]:
    """(the refresh token, whether it came from the cookie); a cookie one must pass the CSRF check."""
    if body is not None:
        return body.refresh_token, False
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        # no credential at all: a 401 like any other missing one (the body itself was valid)
        raise Unauthorized(
            f"Send refresh_token in the body, or the {REFRESH_COOKIE} cookie.", field="body.refresh_token"
        )
    check_double_submit(request)
    return cookie, True


def _has_access_token(request: Request) -> bool:
    return "authorization" in request.headers or ACCESS_COOKIE in request.cookies


def _has_session_cookies(request: Request) -> bool:
    cookies = request.cookies
    return any(name in cookies for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE))


@router.post(
    "/login",
    response_model=None,
    responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}, 429: {}},
    summary="Exchange email and password for an access token and a refresh token",
)
async def login(
    request: Request, runtime: Runtime, svc: Service, body: schemas.LoginIn, session: SessionMode = "bearer"
) -> Response:
    # the throttle answers 429 before the password is verified, and counts 401s
    async with runtime.throttle.attempt(body.email, client_address(request)):
        tokens = await svc.login(body.email, body.password)
    if session == "cookie":
        return _session_response(request, runtime, tokens)
    return private_json(tokens.document())


@router.post(
    "/refresh",
    response_model=None,
    responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}},
    summary="Spend a refresh token for new tokens (rotation; reuse revokes the session)",
)
async def refresh(
    request: Request,
    runtime: Runtime,
    svc: Service,
    body: schemas.RefreshIn | None = None,
    session: SessionMode = "bearer",
) -> Response:
    token, from_cookie = _refresh_token_from(request, body)
    outcome = await svc.refresh(token)
    if outcome.tokens is None:
        # returned, not raised: the commit point must keep a reuse's family revocation
        failure = problem_response(
            401,
            detail=INVALID_REFRESH,
            instance=request.url.path,
            headers={"WWW-Authenticate": 'Bearer realm="agora"', "Cache-Control": "no-store"},
        )
        if from_cookie:  # the browser session is over: drop its cookies
            clear_session_cookies(failure, secure=cookies_secure(request, runtime.platform))
        return failure
    if from_cookie or session == "cookie":
        return _session_response(request, runtime, outcome.tokens)
    return private_json(outcome.tokens.document())


@router.post(
    "/logout",
    status_code=204,
    response_model=None,
    responses={204: {}, 401: {}, 403: {}, 422: {}},
    summary="End the session of the refresh token (body or cookie), else of the access token, in every service",
)
async def logout(request: Request, runtime: Runtime, svc: Service, body: schemas.RefreshIn | None = None) -> Response:
    if body is None and REFRESH_COOKIE not in request.cookies and _has_access_token(request):
        # no refresh token at hand (the web's form logout, whose refresh cookie is scoped to
        # this API): the access token names its session
        subject = await subject_of(request, runtime.verifier)
        await svc.logout_session(subject.id, subject.claims.get("sid"))
    else:
        token, _ = _refresh_token_from(request, body)
        await svc.logout(token)
    response = Response(status_code=204)
    if _has_session_cookies(request):
        clear_session_cookies(response, secure=cookies_secure(request, runtime.platform))
    return response
