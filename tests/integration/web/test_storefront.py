"""The storefront in-process: pages drawn from the seeded shop, filters and pages, the cart, escaping,
CSRF, open redirects, and each part degrading on its own."""

from __future__ import annotations

import pytest

from tests.integration.web.conftest import Shop

pytestmark = pytest.mark.backend("sqlite")


async def test_home_lists_categories_and_featured_products(shop: Shop) -> None:
    visitor = shop.person()
    page = await visitor.get("/")
    assert page.status_code == 200
    assert 'href="/c/books"' in page.text
    assert page.text.count('class="product-card"') >= 1
