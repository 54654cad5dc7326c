"""The layout itself, in a real browser: the home page draws, its script runs under the CSP, it
fills its rows on a desk and shows products above the fold on a phone (issue 17)."""

from __future__ import annotations

from playwright.async_api import Page

from tests.e2e.browser.conftest import Contexts, assert_accessible, assert_chat_launcher_covers_nothing, screenshot

_ROWS = """(selector) => {
  const rows = {};
  for (const card of document.querySelectorAll(selector)) {
    const top = Math.round(card.getBoundingClientRect().top + scrollY);
    rows[top] = (rows[top] || 0) + 1;
  }
  return Object.values(rows);
}"""


async def rows_of(page: Page, selector: str) -> list[int]:
    """How many of ``selector`` each row of the grid holds, top to bottom."""
    return list(await page.evaluate(_ROWS, selector))


async def test_home_page_renders_with_no_script_or_csp_errors(contexts: Contexts) -> None:
    page = await contexts.new_page(width=1280, height=800)
    response = await page.goto("/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    await page.get_by_role("heading", level=1, name="Good things for every day").wait_for()
    await page.get_by_role("link", name="Shop bestsellers").wait_for()
    # the featured grid fills its rows (no orphan row), each category has a picture
    featured = await rows_of(page, "section[aria-labelledby=featured-heading] .product-card")
    assert len(featured) >= 2 and len(set(featured)) == 1, f"featured rows hold {featured} products"
    assert await page.locator(".category-list li").count() >= 8
    assert await page.locator(".category-list li img").count() == await page.locator(".category-list li").count()
    await assert_chat_launcher_covers_nothing(page)
    await screenshot(page, "home")
    assert contexts.console_errors == []


async def test_home_page_fits_a_phone_with_products_above_the_fold(contexts: Contexts) -> None:
    page = await contexts.new_page(width=390, height=844)
    await page.goto("/")
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the page scrolls sideways on a phone ({scroll_width}px wide)"
    header = await page.locator(".site-header").bounding_box()
    assert header is not None and header["height"] <= 110, f"the phone's header is {header} tall"
    first = await page.locator(".product-card img").first.bounding_box()
    assert first is not None and first["y"] + first["height"] / 2 < 844, f"the first product starts at {first}"
    featured = await rows_of(page, "section[aria-labelledby=featured-heading] .product-card")
    assert set(featured) == {2}, f"featured rows hold {featured} products on a phone"
    await assert_chat_launcher_covers_nothing(page)
    await screenshot(page, "home-phone", full_page=False)
    # the sign-in forms, "forgot password" among them, pass axe-core on a phone too
    for path in ("/login", "/forgot-password", "/reset-password?token=not-a-real-token-but-long-enough"):
        await page.goto(path)
        await assert_accessible(page)
    assert contexts.console_errors == []
