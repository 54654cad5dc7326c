"""Identity's HTTP routes under ``/api/identity``: parse, call the service, shape the response.

Browser sessions: ``POST /login?session=cookie`` (and ``/refresh?session=cookie``) answer with
the session cookies of :mod:`agora.platform.auth.cookies` instead of tokens in the body (the body
then holds ``token_type: "cookie"``, ``expires_in`` and the ``csrf_token``, which is also in the
readable ``agora_csrf`` cookie). ``/refresh`` and ``/logout`` take the refresh token from the JSON
body, or, without a body, from the ``agora_refresh`` cookie; a cookie-borne refresh or logout
must carry ``X-CSRF-Token`` (double submit), a cookie refresh always answers with rotated
cookies, and logout clears the cookies whenever the request carried any of them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import jwt
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
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
from agora.platform.auth.revocations import Revocations
from agora.platform.db import Session
from agora.platform.db.types import utcnow
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import ProblemError, Unauthorized, problem_response, require_json
from agora.services.identity import schemas
from agora.services.identity.auth import AdminUser, Me, ServiceCaller, passwords_for, token_subject
from agora.services.identity.keys import active_signing_key, jwks
from agora.services.identity.repository import IdentityRepository
from agora.services.identity.service import (
    INVALID_REFRESH,
    IdentityService,
    IssuedTokens,
    TokenConfig,
    address_document,
    revocations_document,
    user_document,
)
from agora.services.identity.settings import IdentitySettings
from agora.services.identity.throttle import login_attempt, reset_requested

PREFIX = "/api/identity"
EMAIL_PREFIX_LENGTH = 254

AddressId = Annotated[str, Path(max_length=36, description="The address id (a UUID).")]
UserId = Annotated[str, Path(max_length=36, description="The user id (a UUID).")]


def _settings(request: Request) -> IdentitySettings:
    settings = request.state.settings
    assert isinstance(settings, IdentitySettings)
    return settings


async def service(request: Request, session: Session) -> IdentityService:
    settings = _settings(request)
    platform = request.state.platform
    return IdentityService(
        session,
        events=request.state.outbox,
        passwords=passwords_for(request.state.context),
        tokens=TokenConfig(
            issuer=platform.jwt_issuer,
            audience=platform.jwt_audience,
            access_ttl_seconds=settings.access_token_ttl_seconds,
            refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
            leeway_seconds=platform.jwt_leeway_seconds,
        ),
        revocations=request.state.token_verifier.revocations,
    )


Service = Annotated[IdentityService, Depends(service)]


SessionMode = Annotated[
    Literal["bearer", "cookie"],
    Query(description="`cookie`: a browser session in HttpOnly cookies instead of tokens in the body."),
]


def _session_response(request: Request, tokens: IssuedTokens) -> Response:
    """A browser session: the tokens go into cookies, the body says only what a page needs."""
    settings = _settings(request)
    platform = request.state.platform
    # our own token, minted a moment ago: only its jti is read here
    token_id = str(jwt.decode(tokens.access_token, options={"verify_signature": False})["jti"])
    csrf = csrf_token_for(platform.secret_key.get_secret_value(), token_id)
    response = _json({"token_type": "cookie", "expires_in": tokens.expires_in, "csrf_token": csrf})
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


def _json(payload: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    # tokens and profiles are never cached by browsers or proxies
    return Response(
        orjson.dumps(payload),
        status_code=status_code,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["identity"], dependencies=[Depends(require_json)])

    @router.post(
        "/register",
        status_code=201,
        response_model=None,
        responses={201: {"model": schemas.UserOut}, 409: {}, 422: {}},
        summary="Create a customer account",
    )
    async def register(svc: Service, body: schemas.RegisterIn) -> Response:
        user = await svc.register(body)
        return _json(user_document(user), status_code=201, headers={"Location": f"{PREFIX}/me"})

    @router.post(
        "/password-reset",
        status_code=202,
        response_model=None,
        # no body: the document must not promise JSON
        response_class=Response,
        responses={202: {"description": "Accepted: a link is on its way if the account exists."}, 422: {}, 429: {}},
        summary="Email a single-use password reset link (the same answer whether the account exists)",
        description="429 with `Retry-After` past the requests allowed per email or per client in a window.",
    )
    async def password_reset(request: Request, svc: Service, body: schemas.PasswordResetIn) -> Response:
        await reset_requested(request, body.email)
        ttl = timedelta(seconds=_settings(request).password_reset_ttl_seconds)
        await svc.request_password_reset(body.email, ttl=ttl)
        return Response(status_code=202, headers={"Cache-Control": "no-store"})

    @router.post(
        "/password-reset/confirm",
        status_code=204,
        response_model=None,
        responses={204: {}, 400: {}, 422: {}},
        summary="Set a new password with the link's token (once, before it expires); ends every session",
    )
    async def password_reset_confirm(svc: Service, body: schemas.PasswordResetConfirmIn) -> Response:
        await svc.reset_password(body.token, body.password)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    @router.post(
        "/login",
        response_model=None,
        responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}, 429: {}},
        summary="Exchange email and password for an access token and a refresh token",
    )
    async def login(request: Request, svc: Service, body: schemas.LoginIn, session: SessionMode = "bearer") -> Response:
        # the throttle answers 429 before the password is verified, and counts 401s
        async with login_attempt(request, body.email):
            tokens = await svc.login(body.email, body.password)
        if session == "cookie":
            return _session_response(request, tokens)
        return _json(tokens.document())

    @router.post(
        "/refresh",
        response_model=None,
        responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}},
        summary="Spend a refresh token for new tokens (rotation; reuse revokes the session)",
    )
    async def refresh(
        request: Request, svc: Service, body: schemas.RefreshIn | None = None, session: SessionMode = "bearer"
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
                clear_session_cookies(failure, secure=cookies_secure(request, request.state.platform))
            return failure
        if from_cookie or session == "cookie":
            return _session_response(request, outcome.tokens)
        return _json(outcome.tokens.document())

    @router.post(
        "/service-tokens",
        response_model=None,
        responses={200: {"model": schemas.ServiceToken}, 401: {}, 422: {}},
        summary="A short-lived token for a service calling other services' internal routes",
    )
    async def service_token(request: Request, svc: Service, body: schemas.ServiceTokenIn) -> Response:
        platform = request.state.platform
        ttl = platform.service_token_ttl_seconds
        token = await svc.issue_service_token(
            body.service, body.secret, expected=platform.service_secret.get_secret_value(), ttl_seconds=ttl
        )
        return _json({"access_token": token, "token_type": "bearer", "expires_in": ttl})

    @router.post(
        "/logout",
        status_code=204,
        response_model=None,
        responses={204: {}, 401: {}, 403: {}, 422: {}},
        summary="End the session of the refresh token (body or cookie), else of the access token, in every service",
    )
    async def logout(request: Request, svc: Service, body: schemas.RefreshIn | None = None) -> Response:
        if body is None and REFRESH_COOKIE not in request.cookies and _has_access_token(request):
            # no refresh token at hand (the web's form logout, whose refresh cookie is scoped to
            # this API): the access token names its session
            subject = await token_subject(request)
            await svc.logout_session(subject.id, subject.claims.get("sid"))
        else:
            token, _ = _refresh_token_from(request, body)
            await svc.logout(token)
        response = Response(status_code=204)
        if _has_session_cookies(request):
            clear_session_cookies(response, secure=cookies_secure(request, request.state.platform))
        return response

    @router.get(
        "/.well-known/jwks.json",
        response_model=None,
        summary="Public keys that verify access tokens (active and recently retired)",
    )
    async def jwks_endpoint(request: Request, session: Session) -> Response:
        document = await jwks(session, access_token_ttl_seconds=_settings(request).access_token_ttl_seconds)
        if not document["keys"]:
            # nothing signed yet: publish the key that will sign the first token
            await active_signing_key(session)
            document = await jwks(session, access_token_ttl_seconds=_settings(request).access_token_ttl_seconds)
        return Response(
            orjson.dumps(document),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    @router.get("/me", response_model=None, responses={200: {"model": schemas.UserOut}, 401: {}}, summary="You")
    async def me(user: Me) -> Response:
        return _json(user_document(user))

    @router.patch(
        "/me",
        response_model=None,
        responses={200: {"model": schemas.UserOut}, 401: {}, 422: {}},
        summary="Change your profile (display name); role and active flag are refused",
    )
    async def update_me(user: Me, svc: Service, body: schemas.MeUpdate) -> Response:
        user = await svc.update_profile(user, body.model_dump(exclude_unset=True))
        return _json(user_document(user))

    @router.get(
        "/me/addresses",
        response_model=None,
        responses={200: {"model": schemas.AddressList}, 401: {}},
        summary="Your addresses",
    )
    async def list_addresses(user: Me, svc: Service) -> Response:
        addresses = await svc.addresses(user)
        return _json({"items": [address_document(a) for a in addresses], "next_cursor": None})

    @router.post(
        "/me/addresses",
        status_code=201,
        response_model=None,
        responses={201: {"model": schemas.AddressOut}, 401: {}, 422: {}},
        summary="Add an address",
    )
    async def add_address(user: Me, svc: Service, body: schemas.AddressIn) -> Response:
        address = await svc.add_address(user, body)
        return _json(
            address_document(address), status_code=201, headers={"Location": f"{PREFIX}/me/addresses/{address.id}"}
        )

    @router.get(
        "/me/addresses/{address_id}",
        response_model=None,
        responses={200: {"model": schemas.AddressOut}, 401: {}, 404: {}},
        summary="One of your addresses",
    )
    async def get_address(user: Me, svc: Service, address_id: AddressId) -> Response:
        address = await svc.address(user, address_id)
        return _json(address_document(address))

    @router.patch(
        "/me/addresses/{address_id}",
        response_model=None,
        responses={200: {"model": schemas.AddressOut}, 401: {}, 404: {}, 422: {}},
        summary="Change one of your addresses",
    )
    async def update_address(user: Me, svc: Service, address_id: AddressId, body: schemas.AddressUpdate) -> Response:
        address = await svc.update_address(user, address_id, body)
        return _json(address_document(address))

    @router.delete(
        "/me/addresses/{address_id}",
        status_code=204,
        response_model=None,
        responses={204: {}, 401: {}, 404: {}},
        summary="Delete one of your addresses",
    )
    async def delete_address(user: Me, svc: Service, address_id: AddressId) -> Response:
        await svc.delete_address(user, address_id)
        return Response(status_code=204)

    @router.get(
        "/users",
        response_model=None,
        responses={200: {"model": schemas.UserPage}, 401: {}, 403: {}},
        summary="List users, optionally by email prefix (admin)",
    )
    async def list_users(
        request: Request,
        _admin: AdminUser,
        svc: Service,
        email: Annotated[str | None, Query(max_length=EMAIL_PREFIX_LENGTH, description="Email prefix.")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Response:
        after: tuple[str, str] | None = None
        if cursor is not None:
            position = request.state.cursor_codec.decode(cursor)
            if not isinstance(position.get("e"), str) or not isinstance(position.get("i"), str):
                raise ProblemError("The cursor is invalid; start again without it.", status=400, field="cursor")
            after = (position["e"], position["i"])
        users, last = await svc.list_users(email_prefix=email, after=after, limit=limit)
        next_cursor = request.state.cursor_codec.encode({"e": last[0], "i": last[1]}) if last else None
        return _json({"items": [user_document(u) for u in users], "next_cursor": next_cursor})

    @router.get(
        "/internal/users/{user_id}",
        response_model=None,
        responses={200: {"description": "`{id, email, display_name}`"}, 401: {}, 403: {}, 404: {}, 422: {}},
        summary="A user's address and name, for a service that writes to them (notifications)",
    )
    async def internal_user(_caller: ServiceCaller, session: Session, user_id: UserId) -> Response:
        user = await IdentityRepository(session).user_by_id(user_id)
        if user is None:
            raise ProblemError("No such user.", status=404, field="user_id")
        return _json({"id": user.id, "email": user.email, "display_name": user.display_name})

    @router.get(
        "/internal/revocations",
        response_model=None,
        responses={200: {"model": Revocations}, 401: {}, 403: {}},
        summary="Ended sessions and disabled users whose tokens may still be alive (every service syncs them)",
    )
    async def revocations(_caller: ServiceCaller, session: Session) -> Response:
        rows = await IdentityRepository(session).revocations_in_force(utcnow())
        return _json(revocations_document(list(rows)).model_dump(mode="json"))

    @router.patch(
        "/users/{user_id}",
        response_model=None,
        responses={200: {"model": schemas.UserOut}, 401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
        summary="Change a user's role or disable/enable them (admin); disabling ends their sessions",
    )
    async def update_user(admin: AdminUser, svc: Service, user_id: UserId, body: schemas.UserAdminUpdate) -> Response:
        user = await svc.update_user(admin.id, user_id, body)
        return _json(user_document(user))

    return router
