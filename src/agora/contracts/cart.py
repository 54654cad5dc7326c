"""What the cart answers: the cart body other services (orders, web) may rely on.

A cart is short-lived, per-visitor state: checkout reads it over HTTP (``GET /api/cart/users/{id}``
with a service token) rather than following it; these models are that response. The cart
publishes one event, ``cart.item.added`` (topic ``cart``), through its outbox when a shopper adds
a product: analytics counts it as the "cart" step of the conversion funnel.

Prices are the catalog's at the moment the cart was read, never stored in the cart: a cart
line holds a product id and a quantity, nothing else. Consumers re-price before charging.

Compatibility rule: fields are only ever added (with defaults). Consumers ignore unknown fields.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agora.contracts.base import Event
from agora.contracts.catalog import Money

#: Header an API client sends to name its anonymous cart (a UUID the cart handed out).
CART_ID_HEADER = "X-Cart-Id"
#: Cookie the cart sets for a browser's anonymous cart (HttpOnly, SameSite=Lax).
CART_COOKIE = "agora_cart"

#: ``pricing`` of a cart: every line priced; the catalog did not answer (quantities only);
#: the lines' prices are in more than one currency (no subtotal: see the cart service's docs).
Pricing = Literal["ok", "unavailable", "mixed_currencies"]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


#: Event types, stable strings (topic ``cart``).
CART_ITEM_ADDED = "cart.item.added"
#: The CloudEvents ``source`` of every cart event.
SOURCE = "agora/cart"


class CartItemAdded(Event):
    """``cart.item.added``: ``quantity`` of a product went into a cart (``POST /api/cart/items``).

    ``user_id`` is the signed-in shopper (null for an anonymous cart, then ``cart_id`` names it);
    ``line_quantity`` is the line's quantity after the addition.
    """

    event_type: ClassVar[str] = CART_ITEM_ADDED

    product_id: str
    quantity: int
    line_quantity: int
    user_id: str | None = None
    cart_id: str | None = None


class CartLine(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """One product in a cart, priced from the catalog at read time.

    ``available`` is false when the product no longer exists or was withdrawn (then it has no
    price, and ``sku``/``name`` are what the catalog still says, or null when it forgot the
    product); null when the catalog could not be asked (``Cart.pricing == "unavailable"``).
    """

    product_id: str
    sku: str | None = None
    name: str | None = None
    quantity: int
    unit_price: Money | None = None
    line_total: Money | None = None
    available: bool | None = None


class Cart(_Contract):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """``GET /api/cart`` and ``GET /api/cart/users/{user_id}``.

    ``id`` is the anonymous cart's id (the value of ``X-Cart-Id`` / the ``agora_cart`` cookie),
    ``user:<user id>`` for a signed-in user's cart, null for an anonymous visitor who has no
    cart yet. ``subtotal`` sums the available lines; null unless ``pricing`` is ``ok``.
    ``item_count`` is the sum of the quantities of every line, available or not.
    """

    id: str | None
    items: list[CartLine]
    subtotal: Money | None
    item_count: int
    pricing: Pricing = "ok"


__all__ = [
    "CART_COOKIE",
    "CART_ID_HEADER",
    "CART_ITEM_ADDED",
    "SOURCE",
    "Cart",
    "CartItemAdded",
    "CartLine",
    "Money",
    "Pricing",
]
