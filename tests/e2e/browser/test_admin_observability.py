"""The admin console's observability page in a real browser: a fault flag switched on and off
with its button, no script error or CSP violation, nothing for axe-core to fix (the screenshot in
docs/screenshots/admin-observability.png comes from here)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.browser.conftest import Contexts, Site, log_in, screenshot
from tests.e2e.browser.test_admin import console_of_admin_pages


async def test_a_fault_flag_is_switched_on_and_off_from_the_page(contexts: Contexts, site: Site) -> None:
    page = await contexts.new_page()
    await log_in(page, site.admin_email, site.admin_password)
    errors = console_of_admin_pages(page)
    await page.goto("/admin/observability")
    await expect(page.get_by_role("heading", name="Fault flags")).to_be_visible()
    # agora up runs no Alertmanager and knows no Grafana: the page says so and draws the rest
    await expect(page.locator('[data-alerts="unavailable"]')).to_contain_text("not configured")
    await expect(page.get_by_role("link", name="Agora overview")).to_have_count(0)
    row = page.locator('[data-flag="catalog/catalog-latency"]')
    await expect(row).to_have_attribute("data-state", "off")

    await row.get_by_label("Delay (s)").fill("0.2")
    await row.get_by_role("button", name="Switch on catalog-latency of catalog").click()
    await page.wait_for_url(re.compile(r"/admin/observability\?done=fault-on$"))
    await expect(row).to_have_attribute("data-state", "on")
    await expect(row).to_contain_text("delay 0.2 s")
    await screenshot(page, "admin-observability")

    await row.get_by_role("button", name="Switch off catalog-latency of catalog").click()
    await page.wait_for_url(re.compile(r"/admin/observability\?done=fault-off$"))
    await expect(row).to_have_attribute("data-state", "off")
    assert errors == []
