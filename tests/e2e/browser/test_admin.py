"""The admin console in a real browser (issue 7): green health and charts that move in place while
people use the shop; disabling a signed-in user ends their session; a new price reaches the
storefront's product page."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from PIL import Image
from playwright.async_api import ConsoleMessage, Page, expect

from tests.e2e.browser.conftest import Contexts, Site, log_in, register, screenshot, unique_email


def console_of_admin_pages(page: Page) -> list[str]:
    """Script errors and CSP violations while ``page`` shows an admin page (the storefront pages a
    login lands on are other tests' business)."""
    errors: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" and urlsplit(page.url).path.startswith("/admin"):
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", seen)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_the_dashboard_is_green_and_its_charts_move_without_a_reload(contexts: Contexts, site: Site) -> None:
    page = await contexts.new_page()
    await log_in(page, site.admin_email, site.admin_password)
    errors = console_of_admin_pages(page)
    await page.goto("/admin")
    await expect(page.get_by_role("heading", name="Service health")).to_be_visible()
    cells = page.locator(".health")
    assert await cells.count() >= 10
    await expect(page.locator('.health[data-state="bad"]')).to_have_count(0)
    await expect(page.locator('.health[data-service="catalog"]')).to_have_attribute("data-state", "ok")
    await expect(page.locator("#chart-requests svg title")).to_have_text("Request rate per service")

    await page.evaluate("window.adminMarker = 'still the same document'")
    count = await page.locator(".sample-info").get_attribute("data-sample-count")
    summary = await page.locator("#chart-requests").get_attribute("data-summary")
    # a burst at one service nobody else calls much: its line must rise on the page, in place
    async with httpx.AsyncClient(base_url=site.base_url, timeout=10) as client:
        for _ in range(40):
            assert (await client.get("/api/currency/currencies")).status_code == 200
    await page.wait_for_function(
        """([count, summary]) => {
            const info = document.querySelector('.sample-info');
            const chart = document.querySelector('#chart-requests');
            if (!info || !chart || Number(info.dataset.sampleCount) <= Number(count)) return false;
            const peak = /currency: [0-9.]+ \\(peak ([0-9.]+)\\)/.exec(chart.dataset.summary);
            return chart.dataset.summary !== summary && peak !== null && Number(peak[1]) >= 5;
        }""",
        arg=[count, summary],
        timeout=20_000,
    )
    assert await page.evaluate("window.adminMarker") == "still the same document"  # htmx swapped, no reload
    await expect(page.locator("#chart-requests polyline").first).to_be_attached()
    await screenshot(page, "admin-dashboard")
    assert errors == []


async def test_a_disabled_user_is_signed_out_at_their_next_page(contexts: Contexts, site: Site) -> None:
    shopper = await contexts.new_page()
    email = unique_email("disabled")
    await register(shopper, email)
    await shopper.goto("/")
    await expect(shopper.locator("body")).to_have_attribute("data-signed-in", "true")

    admin = await contexts.new_page()
    await log_in(admin, site.admin_email, site.admin_password)
    errors = console_of_admin_pages(admin)
    await admin.goto("/admin/users")
    await admin.get_by_label("Email starts with").fill(email)
    await admin.get_by_role("button", name="Search", exact=True).last.click()
    row = admin.locator(f'tr[data-user="{email}"]')
    await expect(row).to_contain_text("active")
    await row.get_by_role("button", name=f"Disable {email}").click()
    await expect(admin.locator(".flash.success")).to_contain_text("disabled")
    await expect(admin.locator(f'tr[data-user="{email}"] .status')).to_have_text("disabled")
    await screenshot(admin, "admin-users")
    assert errors == []

    await shopper.reload()
    await expect(shopper.locator("body")).to_have_attribute("data-signed-in", "false")
    await expect(shopper.get_by_role("link", name="Log in", exact=True)).to_be_visible()


async def test_a_new_price_and_an_image_show_on_the_product_page(
    contexts: Contexts, site: Site, tmp_path: Path
) -> None:
    admin = await contexts.new_page()
    await log_in(admin, site.admin_email, site.admin_password)
    errors = console_of_admin_pages(admin)
    await admin.goto("/admin/products/new")
    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    name = f"Admin test lamp {sku[-4:]}"
    await admin.get_by_label("SKU").fill(sku)
    await admin.get_by_label("Name").fill(name)
    await admin.get_by_label("Price", exact=True).fill("25.00")
    await admin.get_by_label("Description").fill("A lamp the admin test made.")
    await admin.get_by_role("button", name="Create product").click()
    await expect(admin.locator(".flash.success")).to_contain_text("created")
    product_id = re.search(r"/admin/products/([0-9a-f-]{36})", admin.url)
    assert product_id is not None

    await admin.get_by_label("Price", exact=True).fill("77.70")
    await admin.get_by_role("button", name="Save", exact=True).click()
    await expect(admin.locator(".flash.success")).to_contain_text("saved")
    picture = tmp_path / "lamp.png"
    Image.new("RGB", (240, 180), (230, 160, 40)).save(picture)
    await admin.get_by_label("Upload an image (JPEG, PNG, WebP, GIF)").set_input_files(picture)
    await admin.get_by_role("button", name="Upload and attach").click()
    await expect(admin.locator(".flash.success")).to_contain_text("image is uploaded")
    thumbnail = admin.locator(".thumbs img")
    await expect(thumbnail).to_have_count(1)
    await expect(thumbnail).to_have_attribute("src", re.compile(r"^/api/media/images/[0-9a-f-]+/thumbnail"))
    assert await thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    image_id = (await thumbnail.get_attribute("src") or "").split("/")[4]
    second = tmp_path / "lamp-blue.png"
    Image.new("RGB", (240, 180), (40, 90, 200)).save(second)
    await admin.get_by_label("Upload an image (JPEG, PNG, WebP, GIF)").set_input_files(second)
    await admin.get_by_role("button", name="Upload and attach").click()
    await expect(admin.locator(".thumbs img")).to_have_count(2)
    second_id = (await admin.locator(".thumbs img").nth(1).get_attribute("src") or "").split("/")[4]
    await admin.get_by_label("Units on hand").fill("5")
    await admin.get_by_role("button", name="Set stock").click()
    await expect(admin.locator(".flash.success")).to_contain_text("stock")
    assert errors == []

    shopper = await contexts.new_page()
    await shopper.goto(f"/p/{product_id.group(1)}")
    await expect(shopper.get_by_role("heading", level=1)).to_have_text(name)
    await expect(shopper.locator("main")).to_contain_text("$77.70")
    await expect(shopper.locator(f'main img[src*="{image_id}"]').first).to_be_visible()
    # a thumbnail shows its picture in the main image, in place: the shopper stays on the page
    page_url = shopper.url
    await shopper.get_by_role("link", name=f"Show image 2 of {name}").click()
    await expect(shopper.locator("[data-main-image]")).to_have_attribute("src", re.compile(second_id))
    assert shopper.url == page_url

    await admin.goto(f"/admin/products?q={quote(name)}")
    await expect(admin.locator("table.products")).to_contain_text("$77.70")
    await admin.goto("/admin/products")
    await screenshot(admin, "admin-products")
