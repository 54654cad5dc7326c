"""Identity's HTTP routes under ``/api/identity``: parse, call the service, shape the response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from agora.platform.db import Session
from agora.platform.http.pagination import Cursor, Limit
from agora.platform.http.problems import ProblemError, problem_response, require_json
from agora.services.identity import schemas
from agora.services.identity.auth import AdminUser, Me, passwords_for
from agora.services.identity.keys import active_signing_key, jwks
from agora.services.identity.service import (
    INVALID_REFRESH,
    IdentityError,
    IdentityService,
    TokenConfig,
    address_document,
    user_document,
)
from agora.services.identity.settings import IdentitySettings
from agora.services.identity.throttle import login_attempt

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
        ),
    )


Service = Annotated[IdentityService, Depends(service)]


@asynccontextmanager
async def problems() -> AsyncIterator[None]:
    """Turn the service's errors into RFC 9457 problems."""
    try:
        yield
    except IdentityError as error:
        headers = {"WWW-Authenticate": 'Bearer realm="agora"'} if error.status == 401 else None
        raise ProblemError(error.detail, status=error.status, field=error.field, headers=headers) from None


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
        async with problems():
            user = await svc.register(body)
        return _json(user_document(user), status_code=201, headers={"Location": f"{PREFIX}/me"})

    @router.post(
        "/login",
        response_model=None,
        responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}, 429: {}},
        summary="Exchange email and password for an access token and a refresh token",
    )
    async def login(request: Request, svc: Service, body: schemas.LoginIn) -> Response:
        # the throttle answers 429 before the password is verified, and counts 401s
        async with problems(), login_attempt(request, body.email):
            tokens = await svc.login(body.email, body.password)
        return _json(tokens.document())

    @router.post(
        "/refresh",
        response_model=None,
        responses={200: {"model": schemas.TokenPair}, 401: {}, 422: {}},
        summary="Spend a refresh token for new tokens (rotation; reuse revokes the session)",
    )
    async def refresh(request: Request, svc: Service, body: schemas.RefreshIn) -> Response:
        outcome = await svc.refresh(body.refresh_token)
        if outcome.tokens is None:
            # returned, not raised: the commit point must keep a reuse's family revocation
            return problem_response(
                401,
                detail=INVALID_REFRESH,
                instance=request.url.path,
                headers={"WWW-Authenticate": 'Bearer realm="agora"', "Cache-Control": "no-store"},
            )
        return _json(outcome.tokens.document())

    @router.post(
        "/logout",
        status_code=204,
        response_model=None,
        responses={204: {}, 422: {}},
        summary="Revoke the session the refresh token belongs to",
    )
    async def logout(svc: Service, body: schemas.RefreshIn) -> Response:
        await svc.logout(body.refresh_token)
        return Response(status_code=204)

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
        async with problems():
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
        async with problems():
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
        async with problems():
            address = await svc.address(user, address_id)
        return _json(address_document(address))

    @router.patch(
        "/me/addresses/{address_id}",
        response_model=None,
        responses={200: {"model": schemas.AddressOut}, 401: {}, 404: {}, 422: {}},
        summary="Change one of your addresses",
    )
    async def update_address(user: Me, svc: Service, address_id: AddressId, body: schemas.AddressUpdate) -> Response:
        async with problems():
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
        async with problems():
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

    @router.patch(
        "/users/{user_id}",
        response_model=None,
        responses={200: {"model": schemas.UserOut}, 401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
        summary="Change a user's role or disable/enable them (admin); disabling ends their sessions",
    )
    async def update_user(admin: AdminUser, svc: Service, user_id: UserId, body: schemas.UserAdminUpdate) -> Response:
        async with problems():
            user = await svc.update_user(admin.id, user_id, body)
        return _json(user_document(user))

    return router
