"""The storefront in-process: pages drawn from the seeded shop, filters and pages, the cart, checkout,
escaping, CSRF, open redirects, and each part of a page degrading on its own."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.web.conftest import PASSWORD, Shop, add, checkout_form, csrf_of

pytestmark = pytest.mark.backend("sqlite")

PRODUCT_LINK = re.compile(r'href="/p/([0-9a-f-]{36})"')


def product_ids(text: str) -> list[str]:
    return list(dict.fromkeys(PRODUCT_LINK.findall(text)))


def link(text: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', text)
    return html.unescape(found.group(1)) if found else None


async def cart_lines(visitor: httpx.AsyncClient) -> dict[str, int]:
    page = await visitor.get("/cart")
    assert page.status_code == 200
    return {
        product: int(quantity)
        for product, quantity in re.findall(r'id="qty-([0-9a-f-]{36})"[^>]*value="(\d+)"', page.text)
    }


async def test_home_lists_categories_and_featured_products_in_the_chosen_currency(shop: Shop) -> None:
    visitor = shop.person()
    page = await visitor.get("/")
    assert page.status_code == 200
    assert 'href="/c/books"' in page.text
    assert page.text.count('class="product-card"') >= 1
    assert "$" in page.text

    token = await csrf_of(visitor, "/")
    chosen = await visitor.post("/currency", data={"currency": "EUR", "csrf_token": token, "next": "/"})
    assert chosen.status_code == 303
    page = await visitor.get("/")
    prices = re.findall(r'class="price">([^<]+)<', page.text)
    assert prices and all(price.startswith("€") for price in prices), prices


async def test_a_category_filters_sorts_and_pages_with_next_and_previous(shop: Shop) -> None:
    visitor = shop.person()
    first = await visitor.get("/c/books", params={"sort": "price_asc"})
    assert first.status_code == 200
    assert "<h1>Books</h1>" in first.text
    first_ids = product_ids(first.text)
    assert len(first_ids) == 12  # the page size
    expected = [p["id"] for p in await shop.products(category="books", sort="price_asc", limit=12)]
    assert first_ids == expected

    following = link(first.text, "next")
    assert following is not None and link(first.text, "prev") is None
    second = await visitor.get(following)
    assert second.status_code == 200
    assert not set(product_ids(second.text)) & set(first_ids)
    back = link(second.text, "prev")
    assert back is not None
    assert parse_qs(urlsplit(back).query).get("sort") == ["price_asc"]
    assert product_ids((await visitor.get(back)).text) == first_ids

    cheap = await visitor.get("/c/books", params={"max_price": "20"})
    cheap_ids = product_ids(cheap.text)
    assert cheap_ids == [p["id"] for p in await shop.products(category="books", max_price=2000, limit=12)]
    assert cheap_ids, "some books cost at most $20"


async def test_search_finds_products_and_a_bad_filter_is_a_400_naming_it(shop: Shop) -> None:
    visitor = shop.person()
    found = await visitor.get("/search", params={"q": "wool"})
    assert found.status_code == 200
    assert product_ids(found.text) == [p["id"] for p in await shop.products(q="wool", limit=12)]

    bad = await visitor.get("/search", params={"q": "wool", "min_price": "cheap"})
    assert bad.status_code == 400
    assert 'id="filter-min-error"' in bad.text and "Enter a price" in bad.text
    tampered = await visitor.get("/c/books", params={"cursor": "not-a-real-cursor"})
    assert tampered.status_code == 400
    assert product_ids(tampered.text), "the first page is shown instead"


async def test_the_product_page_shows_price_stock_recommendations_and_an_ad(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    page = await visitor.get(f"/p/{product['id']}")
    assert page.status_code == 200
    assert f"<h1>{html.escape(product['name'])}</h1>" in page.text
    assert "In stock" in page.text
    assert "Bought together" in page.text and "Similar products" in page.text
    assert 'class="ad"' in page.text and "unavailable right now" not in page.text
    assert (await visitor.get(f"/p/{uuid.uuid4()}")).status_code == 404
    assert (await visitor.get("/p/not-an-id")).status_code == 404


async def test_a_product_name_with_markup_is_drawn_as_text_and_out_of_stock_cannot_be_added(shop: Shop) -> None:
    product = await shop.create_product(name="<script>alert(1)</script>", description='"><img src=x onerror=alert(2)>')
    await shop.set_stock(product["sku"], 0)
    visitor = shop.person()
    page = await visitor.get(f"/p/{product['id']}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "Out of stock" in page.text
    assert re.search(r'<button type="submit" disabled>Out of stock</button>', page.text)

    await shop.set_stock(product["sku"], 3)
    assert "Only 3 left" in (await visitor.get(f"/p/{product['id']}")).text


async def test_an_anonymous_cart_adds_updates_and_removes_lines(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    added = await add(visitor, product["id"], 2)
    assert added.status_code == 303 and added.headers["location"] == "/cart"
    assert "agora_cart" in visitor.cookies
    assert await cart_lines(visitor) == {product["id"]: 2}
    assert shop.person() is not visitor and await cart_lines(shop.person()) == {}  # nobody else's cart

    # with htmx: the status line, and the header's count out of band
    partial = await add(visitor, product["id"], 1, **{"HX-Request": "true"})
    assert partial.status_code == 200
    assert re.search(r'id="cart-count"[^>]*hx-swap-oob="true">3<', partial.text)

    token = await csrf_of(visitor, "/cart")
    updated = await visitor.post(f"/cart/items/{product['id']}", data={"quantity": "5", "csrf_token": token})
    assert updated.status_code == 303
    assert await cart_lines(visitor) == {product["id"]: 5}
    removed = await visitor.post(f"/cart/items/{product['id']}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert await cart_lines(visitor) == {}

    too_many = await visitor.post(
        "/cart/add", data={"product_id": product["id"], "quantity": "500", "csrf_token": token}
    )
    assert too_many.status_code == 422
    assert await cart_lines(visitor) == {}


async def test_forms_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    await visitor.get("/")  # the form cookie
    for data in ({}, {"csrf_token": "forged-token"}):
        refused = await visitor.post("/cart/add", data={"product_id": product["id"], "quantity": "1", **data})
        assert refused.status_code == 403
        assert "agora_cart" not in visitor.cookies
    assert await cart_lines(visitor) == {}

    await shop.register(visitor)
    name = (await visitor.get("/account")).text
    refused = await visitor.post("/account/profile", data={"name": "Mallory", "csrf_token": "forged-token"})
    assert refused.status_code == 403
    assert "Mallory" not in (await visitor.get("/account")).text and "Ada Shopper" in name


async def test_the_login_next_never_leaves_the_site(shop: Shop) -> None:
    visitor = shop.person()
    email = await shop.register(visitor)
    token = await csrf_of(visitor, "/")
    await visitor.post("/logout", data={"csrf_token": token})
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = await visitor.get("/login", params={"next": target})
        assert 'name="next" value="/"' in form.text
        token = await csrf_of(visitor, "/login")
        answer = await visitor.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/", target
        token = await csrf_of(visitor, "/")
        await visitor.post("/logout", data={"csrf_token": token})
    token = await csrf_of(visitor, "/login")
    answer = await visitor.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/account/orders"}
    )
    assert answer.headers["location"] == "/account/orders"


async def test_each_part_of_the_product_page_degrades_on_its_own(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    for service, box in (
        ("recommendations", "Recommendations are unavailable right now."),
        ("ads", "Offers are unavailable right now."),
        ("inventory", "Stock information is unavailable right now."),
        ("currency", None),
    ):
        with shop.down(service):
            page = await visitor.get(f"/p/{product['id']}")
        assert page.status_code == 200, service
        assert html.escape(product["name"]) in page.text
        if box is not None:
            assert box in page.text, service
        assert "Add to cart" in page.text

    with shop.down("catalog"):
        home = await visitor.get("/")
        listing = await visitor.get("/c/books")
    assert home.status_code == 200 and listing.status_code == 200
    assert "Categories are unavailable right now." in home.text
    assert "Products are unavailable right now." in listing.text


async def test_checkout_offers_a_login_and_the_anonymous_cart_follows_the_login(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    await add(visitor, product["id"], 1)
    gate = await visitor.get("/checkout")
    assert gate.status_code == 200 and 'href="/login?next=/checkout"' in gate.text
    assert 'action="/checkout/guest"' in gate.text
    await shop.register(visitor)
    assert await cart_lines(visitor) == {product["id"]: 1}
    assert "agora_cart" not in visitor.cookies
    page = await visitor.get("/checkout")
    assert page.status_code == 200
    assert re.search(r'name="idempotency_key" value="[0-9a-f-]{36}"', page.text)
    assert "data-once" in page.text and "4000 0000 0000 0002" in page.text


async def test_a_guest_checks_out_with_an_email_alone_and_may_keep_the_account(shop: Shop) -> None:
    """Issue 17: guest checkout (email only, account optional after)."""
    product = await shop.stocked_product()
    guest = shop.person()
    await add(guest, product["id"], 2)
    token = await csrf_of(guest, "/checkout")
    bad = await guest.post("/checkout/guest", data={"email": "not an email", "csrf_token": token})
    assert bad.status_code == 422 and 'id="guest-email-error"' in bad.text
    taken = await guest.post("/checkout/guest", data={"email": shop.admin_email, "csrf_token": token})
    assert taken.status_code == 409 and "log in to check out" in taken.text

    email = f"guest-{uuid.uuid4().hex[:10]}@example.org"
    started = await guest.post("/checkout/guest", data={"email": email, "name": "Grace", "csrf_token": token})
    assert started.status_code == 303 and started.headers["location"] == "/checkout"
    assert await cart_lines(guest) == {product["id"]: 2}, "the guest's cart followed"
    placed = await guest.post("/checkout", data=await checkout_form(guest))
    assert placed.status_code == 303, placed.text
    order = await guest.get(placed.headers["location"])
    assert "You checked out as a guest" in order.text and 'href="/forgot-password"' in order.text
    assert len(await orders_of(guest)) == 1


async def orders_of(visitor: httpx.AsyncClient) -> list[tuple[str, str]]:
    page = await visitor.get("/account/orders")
    return re.findall(r'href="/account/orders/([0-9a-f-]{36})".*?class="status (\w+)"', page.text, re.S)


async def test_a_checkout_places_one_order_even_when_sent_twice(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    await shop.register(visitor)
    await add(visitor, product["id"], 2)
    form = await checkout_form(visitor)
    placed = await visitor.post("/checkout", data=form)
    assert placed.status_code == 303, placed.text
    location = placed.headers["location"]
    assert re.fullmatch(r"/account/orders/[0-9a-f-]{36}\?placed=1", location)
    again = await visitor.post("/checkout", data=form)  # the double click's second request
    assert again.status_code == 303 and again.headers["location"] == location
    order = await visitor.get(location)
    assert "Thank you! Your order is placed" in order.text
    assert 'class="status paid"' in order.text and html.escape(product["name"]) in order.text
    assert [status for _, status in await orders_of(visitor)] == ["paid"]
    assert await cart_lines(visitor) == {}


async def test_a_declined_card_shows_why_and_pays_nothing_and_bad_fields_are_named(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    await shop.register(visitor)
    await add(visitor, product["id"], 1)

    typo = await visitor.post("/checkout", data=await checkout_form(visitor, card_number="4242 4242 4242 4241"))
    assert typo.status_code == 422
    assert 'id="checkout-card_number-error"' in typo.text
    missing = await visitor.post("/checkout", data=await checkout_form(visitor, city="", expiry="soon"))
    assert missing.status_code == 422
    assert 'id="checkout-city-error"' in missing.text and 'id="checkout-expiry-error"' in missing.text
    assert await orders_of(visitor) == []

    declined = await visitor.post("/checkout", data=await checkout_form(visitor, card_number="4000 0000 0000 0002"))
    assert declined.status_code == 402
    assert declined.text.count("Your card was declined") == 1  # said once, clearly
    assert "No payment was taken" in declined.text
    assert 'value="4000 0000 0000 0002"' not in declined.text  # the card number is never drawn back
    # the attempt is no order in the customer's history, page or API (issue 17)
    assert await orders_of(visitor) == []
    assert (await visitor.get("/api/orders")).json()["items"] == []
    assert await cart_lines(visitor) == {product["id"]: 1}, "the cart stays for another try"
