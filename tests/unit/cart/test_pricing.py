"""Pricing a cart from what the catalog said (pure), and which TTL a cart gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agora.contracts.catalog import CategoryRef, Money, Product
from agora.services.cart.service import CartService, price_lines
from agora.services.cart.settings import CartSettings
from agora.services.cart.store import Line

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def product(product_id: str, amount: int, *, currency: str = "USD", active: bool = True) -> Product:
    return Product(
        id=product_id,
        sku=f"SKU-{product_id.upper()}",
        name=f"Product {product_id}",
        description="",
        price=Money(amount=amount, currency=currency),
        category=CategoryRef(id="c", slug="c", name="C"),
        tags=[],
        images=[],
        active=active,
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def test_lines_are_priced_and_summed() -> None:
    cart = price_lines(
        "cart-1",
        [Line("a", 2), Line("b", 1)],
        {"a": product("a", 250), "b": product("b", 1000)},
        default_currency="USD",
    )
    assert [item.line_total for item in cart.items] == [
        Money(amount=500, currency="USD"),
        Money(amount=1000, currency="USD"),
    ]
    assert cart.subtotal == Money(amount=1500, currency="USD")
    assert cart.item_count == 3 and cart.pricing == "ok" and cart.id == "cart-1"


def test_vanished_and_withdrawn_products_are_unavailable_and_not_charged() -> None:
    lines = [Line("gone", 1), Line("withdrawn", 4), Line("ok", 1)]
    products = {"gone": None, "withdrawn": product("withdrawn", 99, active=False), "ok": product("ok", 10)}
    cart = price_lines(None, lines, products, default_currency="USD")
    gone, withdrawn, ok = cart.items
    assert gone.available is False and gone.sku is None and gone.unit_price is None
    assert withdrawn.available is False and withdrawn.sku == "SKU-WITHDRAWN" and withdrawn.line_total is None
    assert ok.available is True
    assert cart.subtotal == Money(amount=10, currency="USD")
    assert cart.item_count == 6, "unavailable lines still count: the shopper sees them"


def test_mixed_currencies_give_no_subtotal() -> None:
    cart = price_lines(
        "c",
        [Line("a", 1), Line("b", 1)],
        {"a": product("a", 100), "b": product("b", 100, currency="EUR")},
        default_currency="USD",
    )
    assert cart.pricing == "mixed_currencies" and cart.subtotal is None
    assert {item.unit_price.currency for item in cart.items if item.unit_price} == {"USD", "EUR"}


def test_an_empty_cart_costs_zero_in_the_default_currency() -> None:
    cart = price_lines(None, [], {}, default_currency="EUR")
    assert cart.subtotal == Money(amount=0, currency="EUR") and cart.items == [] and cart.item_count == 0


@pytest.mark.parametrize(("owner", "ttl"), [("anon:1234", 7 * 86400), ("user:abc", 30 * 86400)])
def test_anonymous_and_user_carts_live_for_their_own_ttl(owner: str, ttl: int) -> None:
    service = CartService(store=None, catalog=None, settings=CartSettings())  # type: ignore[arg-type]
    limits = service.limits(owner)
    assert limits.ttl_seconds == ttl and limits.max_quantity == 99 and limits.max_lines == 50
