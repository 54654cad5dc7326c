"""The admin console in-process: who may see it, users, products and prices, the metrics sampler,
the charts and the health grid when a service breaks."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from agora.platform.runtime import EmbeddedApp
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import catalog, currency, identity, inventory, web
from agora.services.identity.operations import create_admin
from agora.services.web.monitoring import sampler_of

pytestmark = pytest.mark.backend("sqlite")

PASSWORD = "a long enough test passphrase"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = (
    "/admin",
    "/admin/partials/charts",
    "/admin/partials/health",
    "/admin/analytics",
    "/admin/users",
    "/admin/products",
    "/admin/products/new",
    "/admin/currency",
    "/admin/messaging",
    "/admin/config",
)


@dataclass
class Site:
    client: httpx.AsyncClient
    embedded: EmbeddedApp
    admin_email: str
    people: list[httpx.AsyncClient] = field(default_factory=list)

    def browser(self) -> httpx.AsyncClient:
        """A separate person: its own cookie jar on the same app, asking for pages (closed by the fixture)."""
        person = httpx.AsyncClient(
            transport=self.client._transport, base_url="http://agora.test", headers={"accept": "text/html"}
        )
        self.people.append(person)
        return person

    async def signed_in(self, email: str) -> httpx.AsyncClient:
        person = self.browser()
        session = await person.post("/api/identity/login?session=cookie", json={"email": email, "password": PASSWORD})
        assert session.status_code == 200, session.text
        return person

    async def customer(self, prefix: str = "shopper") -> tuple[str, httpx.AsyncClient]:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"
        registered = await self.client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        return email, await self.signed_in(email)

    async def api_admin(self) -> dict[str, str]:
        login = await self.client.post("/api/identity/login", json={"email": self.admin_email, "password": PASSWORD})
        return {"Authorization": f"Bearer {login.json()['access_token']}"}


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    platform = platform_for_tests(tmp_path_factory.mktemp("admin-console"))
    specs = [identity.spec, catalog.spec, inventory.spec, currency.spec, web.spec]
    # a long interval: the test takes its own samples, the periodic one only runs at start-up
    settings = {"web": web.WebSettings(metrics_interval=60)}
    async with running_services(specs, platform, settings, seed=True) as (client, embedded):
        email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
        await create_admin(embedded.contexts["identity"], email=email, password=PASSWORD)
        site = Site(client, embedded, email)
        yield site
        for person in site.people:
            await person.aclose()


async def csrf_of(person: httpx.AsyncClient, path: str) -> str:
    found = CSRF_INPUT.search((await person.get(path)).text)
    assert found is not None, f"no CSRF field on {path}"
    return found.group(1)


async def test_every_admin_page_is_for_admins_only(site: Site) -> None:
    _, customer = await site.customer()
    support_email, _ = await site.customer("agent")
    admin = await site.signed_in(site.admin_email)
    users = (await admin.get("/admin/users", params={"q": support_email})).text
    user_id = re.search(r'action="/admin/users/([^"]+)"', users)
    assert user_id is not None
    token = await csrf_of(admin, "/admin/users")
    made = await admin.post(f"/admin/users/{user_id.group(1)}", data={"role": "support", "csrf_token": token})
    assert made.status_code == 303, made.text
    support = await site.signed_in(support_email)
    anonymous = site.browser()
    for path in PAGES:
        page = await admin.get(path)
        assert page.status_code == 200, f"{path}: {page.status_code}"
        assert page.headers["content-type"].startswith("text/html")
        denied = await customer.get(path)
        assert denied.status_code == 403, path
        assert "Not allowed" in denied.text
        away = await anonymous.get(path)
        assert away.status_code == 303, path
        assert away.headers["location"] == "/login?next=" + path.replace("/", "%2F")
        inbox = await support.get(path)
        assert inbox.status_code == 303 and inbox.headers["location"] == "/admin/support", path
    dashboard = (await admin.get("/admin")).text
    assert 'href="/admin/support"' in dashboard
    assert 'hx-get="/admin/partials/charts"' in dashboard and 'hx-trigger="every 60s"' in dashboard
    assert re.search(r"\son[a-z]+=", dashboard) is None and 'style="' not in dashboard


async def test_users_are_found_disabled_and_given_roles_with_a_csrf_token_only(site: Site) -> None:
    email, customer = await site.customer()
    admin = await site.signed_in(site.admin_email)
    listed = await admin.get("/admin/users", params={"q": email[:12]})
    assert email in listed.text
    user_id = re.search(r'data-user="' + re.escape(email) + r'">.*?action="/admin/users/([^"]+)"', listed.text, re.S)
    assert user_id is not None
    target = f"/admin/users/{user_id.group(1)}"
    api_admin = await site.api_admin()

    async def state() -> dict[str, Any]:
        found = await site.client.get("/api/identity/users", params={"email": email}, headers=api_admin)
        return dict(found.json()["items"][0])

    # without (or with a forged) CSRF token nothing changes
    assert (await admin.post(target, data={"active": "false"})).status_code == 403
    assert (await admin.post(target, data={"active": "false", "csrf_token": "forged"})).status_code == 403
    assert (await state())["is_active"] is True

    token = await csrf_of(admin, "/admin/users")
    bad = await admin.post(target, data={"role": "emperor", "csrf_token": token})
    assert bad.status_code == 422
    assert "flash error" in bad.text and "role" in bad.text
    assert (await state())["role"] == "customer"

    promoted = await admin.post(target, data={"role": "support", "csrf_token": token, "q": email})
    assert promoted.status_code == 303
    assert (await state())["role"] == "support"
    shown = await admin.get(promoted.headers["location"])
    assert "role is changed" in shown.text

    assert email in (await customer.get("/")).text
    disabled = await admin.post(target, data={"active": "false", "csrf_token": token})
    assert disabled.status_code == 303
    assert (await state())["is_active"] is False
    after = await customer.get("/")
    assert after.status_code == 200 and 'data-signed-in="false"' in after.text and email not in after.text

    enabled = await admin.post(target, data={"active": "true", "csrf_token": token})
    assert enabled.status_code == 303 and (await state())["is_active"] is True


async def test_a_new_price_shows_on_the_storefront_and_a_bad_one_changes_nothing(site: Site) -> None:
    admin = await site.signed_in(site.admin_email)
    shopper = site.browser()
    product = (await site.client.get("/api/catalog/products", params={"limit": 1})).json()["items"][0]
    form_page = await admin.get(f"/admin/products/{product['id']}")
    assert form_page.status_code == 200 and product["sku"] in form_page.text
    token = await csrf_of(admin, f"/admin/products/{product['id']}")
    fields = {
        "csrf_token": token,
        "name": product["name"],
        "description": product["description"],
        "currency": "USD",
        "category": product["category"]["slug"],
        "tags": ", ".join(product["tags"]),
        "active": "on",
    }
    refused = await admin.post(f"/admin/products/{product['id']}", data={**fields, "price": "-3"})
    assert refused.status_code == 422 and "Enter a price above zero" in refused.text
    no_token = await admin.post(f"/admin/products/{product['id']}", data={**fields, "price": "1.00", "csrf_token": ""})
    assert no_token.status_code == 403
    unchanged = (await site.client.get(f"/api/catalog/products/{product['id']}")).json()
    assert unchanged["price"] == product["price"] and unchanged["version"] == product["version"]

    saved = await admin.post(f"/admin/products/{product['id']}", data={**fields, "price": "1234.56"})
    assert saved.status_code == 303, saved.text
    assert "The product is saved" in (await admin.get(saved.headers["location"])).text
    page = await shopper.get(f"/p/{product['id']}")
    assert page.status_code == 200 and "$1,234.56" in page.text


async def test_a_product_is_created_with_its_name_shown_as_text_and_stock_is_set(site: Site) -> None:
    admin = await site.signed_in(site.admin_email)
    token = await csrf_of(admin, "/admin/products/new")
    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    category = (await site.client.get("/api/catalog/categories")).json()["items"][0]["slug"]
    form = {
        "csrf_token": token,
        "sku": sku,
        "name": "<script>alert(1)</script>",
        "price": "9.99",
        "currency": "USD",
        "category": category,
        "description": "Made by the admin test.",
        "tags": "",
        "active": "on",
    }
    created = await admin.post("/admin/products", data=form)
    assert created.status_code == 303, created.text
    product_path = created.headers["location"].split("?")[0]
    shown = await admin.get(created.headers["location"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text and "<script>alert(1)" not in shown.text
    again = await admin.post("/admin/products", data=form)
    assert again.status_code == 409 and "flash error" in again.text

    bad = await admin.post(f"{product_path}/stock", data={"csrf_token": token, "on_hand": "lots"})
    assert bad.status_code == 422 and "whole number" in bad.text
    stocked = await admin.post(f"{product_path}/stock", data={"csrf_token": token, "on_hand": "17"})
    assert stocked.status_code == 303
    level = (await site.client.get(f"/api/inventory/stock/{sku}")).json()
    assert level["on_hand"] == 17
    assert "17 on hand" in (await admin.get(product_path)).text


async def test_the_sampler_turns_real_requests_into_rates_and_charts(site: Site) -> None:
    sampler = sampler_of(site.embedded.contexts["web"])
    await sampler.sample()
    for _ in range(25):
        assert (await site.client.get("/api/catalog/categories")).status_code == 200
    await sampler.sample()

    rates = {series.name: series for series in sampler.request_rates()}
    assert "catalog" in rates
    assert max(value or 0 for _, value in rates["catalog"].points) > 0
    latencies = {series.name: series.latest for series in sampler.latencies("catalog")}
    assert latencies["p50"] is not None and 0 < latencies["p50"] <= latencies["p99"]  # type: ignore[operator]

    admin = await site.signed_in(site.admin_email)
    partial = await admin.get("/admin/partials/charts")
    assert partial.status_code == 200
    assert partial.text.count("<svg") >= 5
    assert '<title id="chart-requests-title">Request rate per service</title>' in partial.text
    assert re.search(r'<polyline class="series series-\d+" points="[\d., ]+"', partial.text)
    assert "catalog latency" in partial.text
    assert "<html" not in partial.text  # a fragment for htmx, not a page


async def test_a_broken_service_turns_red_while_the_dashboard_still_answers(site: Site) -> None:
    admin = await site.signed_in(site.admin_email)
    context = site.embedded.contexts["inventory"]
    healthy = context.engine
    broken = create_async_engine(f"sqlite+aiosqlite:///{Path('/nonexistent-dir') / 'inventory.db'}")
    before = (await admin.get("/admin/partials/health")).text
    assert re.search(r'data-service="inventory" data-state="ok"', before)
    context.engine = broken
    try:
        page = await admin.get("/admin")
        partial = await admin.get("/admin/partials/health")
    finally:
        context.engine = healthy
        await broken.dispose()
    assert page.status_code == 200 and partial.status_code == 200
    for text in (page.text, partial.text):
        assert re.search(r'data-service="inventory" data-state="bad"', text)
        assert re.search(r'data-service="catalog" data-state="ok"', text)
        assert "database:" in text
