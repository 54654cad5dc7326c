"""The cart's HTTP routes under ``/api/cart``: parse, call the service, shape the response.

Every change answers with the whole cart, priced, so a storefront re-renders from one call.
An anonymous visitor's first write mints a cart id, returned as the body's ``id`` and set as
the ``agora_cart`` cookie (HttpOnly, SameSite=Lax, refreshed with every write so it lives as
long as the cart). A signed-in request that carries an anonymous cart id (header or cookie)
first merges that cart into the user's and deletes it, clearing the cookie.

The store behind the routes is Redis or the cart's SQL database (see :class:`.runtime.CartRuntime`);
Redis being down answers 503 with ``Retry-After`` through the chassis, and nothing else in the
platform notices.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from agora.contracts.cart import CART_COOKIE, Cart
from agora.platform.auth import CurrentSubject
from agora.platform.auth.cookies import cookies_secure
from agora.platform.db import Session
from agora.platform.errors import NotFoundError
from agora.platform.http.deps import PlatformConfig
from agora.platform.http.problems import require_json
from agora.platform.http.responses import json_response
from agora.services.cart import schemas
from agora.services.cart.auth import CartOwner, Owner, ServiceCaller
from agora.services.cart.runtime import Runtime
from agora.services.cart.service import CartService, anonymous_owner, user_owner

PREFIX = "/api/cart"


async def cart_service(runtime: Runtime, session: Session) -> CartService:
    return runtime.service(session)


async def _cookies_secure(request: Request, platform: PlatformConfig) -> bool:
    return cookies_secure(request, platform)


Service = Annotated[CartService, Depends(cart_service)]
Secure = Annotated[bool, Depends(_cookies_secure)]
"""Whether the cart cookie is set ``Secure`` (HTTPS, or any environment but development and test)."""
ProductId = Annotated[str, Path(min_length=36, max_length=36, pattern=schemas.UUID_PATTERN)]
UserId = Annotated[str, Path(pattern=schemas.USER_ID_PATTERN, description="The user's id (identity's subject).")]

CART_RESPONSES: dict[int | str, dict[str, object]] = {200: {"model": Cart}}

router = APIRouter(prefix=PREFIX, tags=["cart"], dependencies=[Depends(require_json)])


async def _merged(service: CartService, caller: CartOwner) -> None:
    """The "merged at login" step: a signed-in request carrying an anonymous cart absorbs it."""
    if caller.signed_in and caller.anonymous_cart is not None and caller.owner is not None:
        await service.merge(anonymous_owner(caller.anonymous_cart), caller.owner)


def _for_write(caller: CartOwner) -> CartOwner:
    return caller if caller.owner is not None else caller.with_new_cart(str(uuid.uuid4()))


def _cart_json(cart: Cart) -> Response:
    return json_response(cart.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def _cart_response(
    service: CartService, cart: Cart, caller: CartOwner, *, secure: bool, wrote: bool = True
) -> Response:
    response = _cart_json(cart)
    _cookie(service, response, caller, secure=secure, wrote=wrote)
    return response


def _cookie(service: CartService, response: Response, caller: CartOwner, *, secure: bool, wrote: bool) -> None:
    if caller.signed_in:
        if caller.source == "cookie":
            response.delete_cookie(CART_COOKIE, path="/", httponly=True, samesite="lax")
        return
    if wrote and (caller.minted or caller.source == "cookie"):
        response.set_cookie(
            CART_COOKIE,
            caller.cart_id or "",
            max_age=service.settings.anonymous_ttl_seconds,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )


@router.get("", response_model=None, responses=CART_RESPONSES, summary="The caller's cart, priced now")
async def get_cart(service: Service, caller: Owner, secure: Secure) -> Response:
    await _merged(service, caller)
    cart = await service.view(caller.owner, caller.cart_id)
    return _cart_response(service, cart, caller, secure=secure, wrote=False)


@router.post(
    "/items",
    response_model=None,
    responses={**CART_RESPONSES, 422: {}, 503: {}},
    summary="Add a product (quantities add up to the per-line bound)",
)
async def add_item(service: Service, caller: Owner, secure: Secure, body: schemas.ItemAdd) -> Response:
    await _merged(service, caller)
    caller = _for_write(caller)
    assert caller.owner is not None
    await service.add(caller.owner, body.product_id, body.quantity)
    return _cart_response(service, await service.view(caller.owner, caller.cart_id), caller, secure=secure)


@router.put(
    "/items/{product_id}",
    response_model=None,
    responses={**CART_RESPONSES, 404: {}, 422: {}, 503: {}},
    summary="Set a product's quantity (adds the line if missing)",
)
async def put_item(
    service: Service, caller: Owner, secure: Secure, product_id: ProductId, body: schemas.ItemUpdate
) -> Response:
    await _merged(service, caller)
    caller = _for_write(caller)
    assert caller.owner is not None
    await service.update(caller.owner, product_id, body.quantity)
    return _cart_response(service, await service.view(caller.owner, caller.cart_id), caller, secure=secure)


@router.delete(
    "/items/{product_id}",
    response_model=None,
    responses={**CART_RESPONSES, 404: {}},
    summary="Remove a product from the cart",
)
async def delete_item(service: Service, caller: Owner, secure: Secure, product_id: ProductId) -> Response:
    await _merged(service, caller)
    if caller.owner is None:
        raise NotFoundError(f"Product {product_id} is not in the cart.", field="product_id")
    await service.remove(caller.owner, product_id)
    return _cart_response(service, await service.view(caller.owner, caller.cart_id), caller, secure=secure)


@router.delete("", status_code=204, response_model=None, summary="Empty the caller's cart")
async def clear_cart(service: Service, caller: Owner, secure: Secure) -> Response:
    await _merged(service, caller)
    if caller.owner is not None:
        await service.clear(caller.owner)
    response = Response(status_code=204)
    _cookie(service, response, caller, secure=secure, wrote=False)
    return response


@router.post(
    "/merge",
    response_model=None,
    responses={**CART_RESPONSES, 401: {}, 422: {}},
    summary="Move an anonymous cart into the signed-in caller's cart",
)
async def merge_cart(
    service: Service, subject: CurrentSubject, caller: Owner, secure: Secure, body: schemas.CartMerge
) -> Response:
    owner = user_owner(subject.id)
    await _merged(service, caller)
    await service.merge(anonymous_owner(body.cart_id), owner)
    return _cart_response(service, await service.view(owner, owner), caller, secure=secure)


@router.get(
    "/users/{user_id}",
    response_model=None,
    responses={**CART_RESPONSES, 401: {}, 403: {}},
    summary="A user's cart (internal: service token)",
)
async def get_user_cart(service: Service, _caller: ServiceCaller, user_id: UserId) -> Response:
    owner = user_owner(user_id)
    return _cart_json(await service.view(owner, owner))


@router.delete(
    "/users/{user_id}",
    status_code=204,
    response_model=None,
    responses={401: {}, 403: {}},
    summary="Empty a user's cart (internal: service token; after checkout)",
)
async def clear_user_cart(service: Service, _caller: ServiceCaller, user_id: UserId) -> Response:
    await service.clear(user_owner(user_id))
    return Response(status_code=204)
