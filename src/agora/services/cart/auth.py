"""Who owns the cart a request is about, and the route guards the cart uses.

A signed-in caller (bearer token or session cookie) owns ``user:<subject id>``. Anyone else is
anonymous and owns ``anon:<cart id>``, the cart id coming from the ``X-Cart-Id`` header (API
clients) or else the ``agora_cart`` cookie (browsers). The cart id is a bearer credential for
an anonymous cart: a random UUID the cart service minted on the first write.

A malformed cart id is a 400 naming the header or the cookie, and a malformed cookie is also
cleared in that answer, so a browser holding a bad one recovers on its next request instead of
being stuck. A signed-in request that still carries an anonymous cart id names the cart to merge
into the user's ("merged at login"; the endpoints do it).

Internal routes (``/api/cart/users/{id}``, for the orders saga) take a service token:
``ServiceCaller``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Depends, Request
from starlette.responses import Response

from agora.contracts.cart import CART_COOKIE, CART_ID_HEADER
from agora.platform.auth import OptionalSubject, ServiceCaller
from agora.platform.http.problems import BadRequest
from agora.services.cart.schemas import UUID_PATTERN
from agora.services.cart.service import anonymous_owner, user_owner

_CART_ID = re.compile(UUID_PATTERN)
_MAX_CART_ID_LENGTH = 64


@dataclass(frozen=True)
class CartOwner:
    """The cart a request acts on. ``owner`` is None for an anonymous visitor without a cart yet."""

    owner: str | None
    cart_id: str | None
    """What the cart body calls ``id``: the anonymous cart id, or ``user:<id>``."""
    anonymous_cart: str | None = None
    """The anonymous cart id the request carried (for a signed-in caller: the cart to merge)."""
    source: Literal["header", "cookie"] | None = None
    minted: bool = False

    @property
    def signed_in(self) -> bool:
        return self.owner is not None and not self.owner.startswith("anon:")

    def with_new_cart(self, cart_id: str) -> CartOwner:
        return replace(self, owner=anonymous_owner(cart_id), cart_id=cart_id, anonymous_cart=cart_id, minted=True)


def clear_cookie_header() -> str:
    response = Response()
    response.delete_cookie(CART_COOKIE, path="/", httponly=True, samesite="lax")
    return response.headers["set-cookie"]


def _cart_id(request: Request) -> tuple[str | None, Literal["header", "cookie"] | None]:
    header = request.headers.get(CART_ID_HEADER)
    if header is not None:
        value = header.strip().lower()
        if len(value) > _MAX_CART_ID_LENGTH or not _CART_ID.match(value):
            raise BadRequest(
                f"{CART_ID_HEADER} must be a cart id (a UUID) this service handed out.", field=CART_ID_HEADER
            )
        return value, "header"
    cookie = request.cookies.get(CART_COOKIE) if "cookie" in request.headers else None
    if cookie is not None:
        value = cookie.strip().lower()
        if len(value) > _MAX_CART_ID_LENGTH or not _CART_ID.match(value):
            raise BadRequest(
                f"The {CART_COOKIE} cookie is not a cart id; it has been cleared, try again.",
                field=CART_COOKIE,
                headers={"Set-Cookie": clear_cookie_header()},
            )
        return value, "cookie"
    return None, None


async def cart_owner(request: Request, subject: OptionalSubject) -> CartOwner:
    cart_id, source = _cart_id(request)
    if subject is not None:
        owner = user_owner(subject.id)
        return CartOwner(owner=owner, cart_id=owner, anonymous_cart=cart_id, source=source)
    if cart_id is None:
        return CartOwner(owner=None, cart_id=None)
    return CartOwner(owner=anonymous_owner(cart_id), cart_id=cart_id, anonymous_cart=cart_id, source=source)


Owner = Annotated[CartOwner, Depends(cart_owner)]

__all__ = ["CartOwner", "Owner", "ServiceCaller", "clear_cookie_header"]
