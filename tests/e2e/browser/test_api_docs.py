"""A service's API docs page in a real browser: Swagger UI draws under the CSP, from this origin only."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Request

from tests.e2e.browser.conftest import Contexts, screenshot


async def test_api_docs_draw_under_the_csp_from_this_origin_only(contexts: Contexts) -> None:
    page = await contexts.new_page()
    origins: set[str] = set()

    def record(request: Request) -> None:
        parts = urlsplit(request.url)
        origins.add(f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else parts.scheme)

    page.on("request", record)
    response = await page.goto("/api/catalog/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    # Swagger UI has fetched the document and drawn an operation of it
    await page.locator(".opblock-summary-path", has_text="/api/catalog/products/{product_id}").first.wait_for()
    await page.locator(".opblock-summary-path").first.click()
    await page.get_by_role("button", name="Try it out").first.wait_for()
    await screenshot(page, "api-docs-catalog")
    assert origins <= {contexts.site.base_url, "data"}, origins
    assert contexts.console_errors == []  # a CSP violation is a console error
