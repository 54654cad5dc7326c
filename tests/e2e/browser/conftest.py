"""The browser tests' kit: a real ``agora up`` on a free port, Debian's Chromium under Playwright.

One site serves every browser test (the package) (start-up seeds the catalog: seconds, not
milliseconds); each test gets fresh browser contexts, so cookies never leak between tests. An
admin account is created with ``agora create-admin`` before the site starts, as the README tells
a new user to. Screenshots go to ``var/screenshots`` (``AGORA_SCREENSHOTS_DIR``).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from agora.platform.testing.processes import agora_up

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
SCREENSHOTS = Path(os.environ.get("AGORA_SCREENSHOTS_DIR", "var/screenshots"))
CHROMIUM_PRESENT = Path(CHROMIUM).exists()


@dataclass(frozen=True)
class Site:
    base_url: str
    data_dir: Path
    log_path: Path
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``agora up`` (embedded) with an admin account, serving until the session ends."""
    directory = tmp_path_factory.mktemp("browser-site")
    with agora_up(directory, admin=(ADMIN_EMAIL, ADMIN_PASSWORD)) as base:
        _wait_for_demo_images(base)
        yield Site(base_url=base, data_dir=directory / "var", log_path=directory / "agora.log")


def _wait_for_demo_images(base: str, *, within: float = 120.0) -> None:
    """Media draws the demo products' pictures after start-up (from the catalog's events); until
    it has, the pages' images are 404s, which the browser reports as console errors."""
    import time

    from agora.contracts.media import image_url

    with httpx.Client(base_url=base, timeout=10) as client:
        pending: set[str] = set()
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/catalog/products", params=params).json()
            pending.update(image_url(ref, "small") for product in page["items"] for ref in product["images"][:1])
            cursor = page["next_cursor"]
            if not cursor:
                break
        deadline = time.monotonic() + within
        while pending:
            pending = {url for url in pending if client.get(url).status_code != 200}
            if pending and time.monotonic() > deadline:
                pytest.fail(f"media has not drawn {len(pending)} demo pictures within {within:.0f}s")
            if pending:
                time.sleep(0.5)  # polling a process we do not control: there is no event to await


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail(f"{CHROMIUM} is missing: scripts/provision-backends.sh installs Debian's chromium")
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            await instance.close()


class Contexts:
    """Opens browser contexts (separate cookie jars: separate people) and closes them after the test."""

    def __init__(self, browser: Browser, site: Site) -> None:
        self.browser = browser
        self.site = site
        self.opened: list[BrowserContext] = []
        self.console_errors: list[str] = []

    async def new_page(self, *, width: int = 1280, height: int = 800) -> Page:
        context = await self.browser.new_context(
            base_url=self.site.base_url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(10_000)
        self.opened.append(context)
        page = await context.new_page()
        # a CSP violation or a script error is a bug of ours: collect them, the test asserts none
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        return page

    async def close(self) -> None:
        for context in self.opened:
            await context.close()


@pytest.fixture
async def contexts(browser: Browser, site: Site) -> AsyncIterator[Contexts]:
    opened = Contexts(browser, site)
    try:
        yield opened
    finally:
        await opened.close()


_LOAD_ALL_IMAGES = """async () => {
  const images = [...document.querySelectorAll("img[loading=lazy]")];
  for (const image of images) image.loading = "eager";
  await Promise.all(images.map((image) => image.decode().catch(() => null)));
}"""


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Saves a screenshot of the page as ``<SCREENSHOTS>/<name>.png`` (kept as a test artefact),
    after axe-core found nothing to fix on it: every page a journey stops to look at is audited."""
    await assert_accessible(page)
    if full_page:  # lazy pictures below the fold load only when scrolled to: load them all first
        await page.evaluate(_LOAD_ALL_IMAGES)
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


_COVERED = """() => {
  const widget = document.querySelector(".chat-widget");  // the whole box takes the clicks, not just its button
  if (!widget) return [];
  const box = widget.getBoundingClientRect();
  const hits = [];
  const content = ["a", "button", "input", "select", "h1", "h2", ".name", ".price"];
  const selector = content.map((s) => "main " + s).concat(content.map((s) => ".site-header " + s)).join(", ");
  for (const element of document.querySelectorAll(selector)) {
    const r = element.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top) {
      const text = element.textContent || element.getAttribute("aria-label") || "";
      hits.push(element.tagName + " " + text.trim().slice(0, 40));
    }
  }
  return hits;
}"""


async def assert_chat_launcher_covers_nothing(page: Page) -> None:
    """The support launcher overlaps no link, button, field, heading, name or price of the page, at
    the top of the page, halfway down and at its end (issue 17: it covered "Add to cart")."""
    for fraction in (0, 0.5, 1):
        await page.evaluate("(f) => scrollTo(0, (document.documentElement.scrollHeight - innerHeight) * f)", fraction)
        covered = await page.evaluate(_COVERED)
        assert covered == [], f"the chat launcher covers {covered} on {page.url} (scrolled {fraction:.0%})"
    await page.evaluate("window.scrollTo(0, 0)")


#: axe-core (npm ``axe-core``, MPL-2.0), vendored unmodified with its licence: the browser tests
#: run offline in CI, so the file travels with them instead of an ``npm install`` at test time
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => v.impact + " " + v.id + ": " + v.help + " at "
    + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
}"""


async def assert_accessible(page: Page) -> None:
    """axe-core finds no violation (WCAG 2.x A/AA and best practices, its defaults) on the page as
    it is now. Evaluated through the DevTools protocol, so the page's CSP does not refuse it.

    The API docs pages (``/api/<service>/docs``) are Swagger UI's, drawn by its own bundle: its
    findings are Swagger UI's to fix, so they are not audited here."""
    if urlsplit(page.url).path.startswith("/api/"):
        return
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(await asyncio.to_thread(AXE.read_text))
    violations = await page.evaluate(_AXE_RUN)
    assert violations == [], f"axe-core on {page.url}: {violations}"


def unique_email(prefix: str = "shopper") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def register(
    page: Page, email: str, password: str = "a long enough password", name: str = "Test Shopper"
) -> None:
    """Registers through the site's own form and ends signed in (the storefront's /register)."""
    await page.goto("/register")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(re.compile(r"^(?!.*/register).*$"))


async def log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def api(site: Site) -> httpx.Client:
    """A plain HTTP client on the site, for arranging and checking state beside the browser."""
    return httpx.Client(base_url=site.base_url, timeout=10)
