"""The layout itself, in a real browser: the home page draws, its script runs under the CSP."""

from __future__ import annotations

from tests.e2e.browser.conftest import Contexts, screenshot


async def test_home_page_renders_with_no_script_or_csp_errors(contexts: Contexts) -> None:
    page = await contexts.new_page()
    response = await page.goto("/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    await page.get_by_role("heading", name="Welcome to Agora").wait_for()
    assert await page.locator(".category-list li").count() >= 8
    await screenshot(page, "home")
    assert contexts.console_errors == []


async def test_home_page_fits_a_phone(contexts: Contexts) -> None:
    page = await contexts.new_page(width=390, height=844)
    await page.goto("/")
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the page scrolls sideways on a phone ({scroll_width}px wide)"
    await screenshot(page, "home-phone")
