"""The admin console in-process: who may see it, users, products and prices, the metrics sampler,
the charts and the health grid when a service breaks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agora.platform.http.clients import create_service_client
from agora.services.web.runtime import web_runtime
from agora.services.web.settings import WebSettings
from tests.integration.web.conftest import PASSWORD, Shop, csrf_of
from tests.support.servers import serving

pytestmark = pytest.mark.backend("sqlite")

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


async def signed_in(shop: Shop, email: str) -> httpx.AsyncClient:
    person = shop.person()
    session = await person.post("/api/identity/login?session=cookie", json={"email": email, "password": PASSWORD})
    assert session.status_code == 200, session.text
    return person


async def new_customer(shop: Shop) -> tuple[str, httpx.AsyncClient]:
    person = shop.person()
    return await shop.register(person), person


async def admin_of(shop: Shop) -> httpx.AsyncClient:
    return await signed_in(shop, shop.admin_email)


async def test_every_admin_page_is_for_admins_only(shop: Shop) -> None:
    _, customer = await new_customer(shop)
    support_email, _ = await new_customer(shop)
    admin = await admin_of(shop)
    users = (await admin.get("/admin/users", params={"q": support_email})).text
    user_id = re.search(r'action="/admin/users/([^"]+)"', users)
    assert user_id is not None
    token = await csrf_of(admin, "/admin/users")
    made = await admin.post(f"/admin/users/{user_id.group(1)}", data={"role": "support", "csrf_token": token})
    assert made.status_code == 303, made.text
    support = await signed_in(shop, support_email)
    anonymous = shop.person()
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
    assert 'hx-get="/admin/partials/charts"' in dashboard and 'hx-trigger="every 2s"' in dashboard
    assert re.search(r"\son[a-z]+=", dashboard) is None and 'style="' not in dashboard


async def test_users_are_found_disabled_and_given_roles_with_a_csrf_token_only(shop: Shop) -> None:
    email, customer = await new_customer(shop)
    admin = await admin_of(shop)
    listed = await admin.get("/admin/users", params={"q": email[:12]})
    assert email in listed.text
    user_id = re.search(r'data-user="' + re.escape(email) + r'">.*?action="/admin/users/([^"]+)"', listed.text, re.S)
    assert user_id is not None
    target = f"/admin/users/{user_id.group(1)}"
    api_admin = await shop.admin_headers()

    async def state() -> dict[str, Any]:
        found = await shop.client.get("/api/identity/users", params={"email": email}, headers=api_admin)
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


async def test_a_new_price_shows_on_the_storefront_and_a_bad_one_changes_nothing(shop: Shop) -> None:
    admin = await admin_of(shop)
    shopper = shop.person()
    product = (await shop.client.get("/api/catalog/products", params={"limit": 1})).json()["items"][0]
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
    unchanged = (await shop.client.get(f"/api/catalog/products/{product['id']}")).json()
    assert unchanged["price"] == product["price"] and unchanged["version"] == product["version"]

    saved = await admin.post(f"/admin/products/{product['id']}", data={**fields, "price": "1234.56"})
    assert saved.status_code == 303, saved.text
    assert "The product is saved" in (await admin.get(saved.headers["location"])).text
    page = await shopper.get(f"/p/{product['id']}")
    assert page.status_code == 200 and "$1,234.56" in page.text


async def test_a_product_is_created_with_its_name_shown_as_text_and_stock_is_set(shop: Shop) -> None:
    admin = await admin_of(shop)
    token = await csrf_of(admin, "/admin/products/new")
    sku = f"ADM-{uuid.uuid4().hex[:8].upper()}"
    category = (await shop.client.get("/api/catalog/categories")).json()["items"][0]["slug"]
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
    level = (await shop.client.get(f"/api/inventory/stock/{sku}")).json()
    assert level["on_hand"] == 17
    assert "17 on hand" in (await admin.get(product_path)).text


async def test_the_sampler_turns_real_requests_into_rates_and_charts(shop: Shop) -> None:
    sampler = web_runtime(shop.embedded.contexts["web"]).sampler
    await sampler.sample()
    for _ in range(25):
        assert (await shop.client.get("/api/catalog/categories")).status_code == 200
    await sampler.sample()

    rates = {series.name: series for series in sampler.request_rates()}
    assert "catalog" in rates
    assert max(value or 0 for _, value in rates["catalog"].points) > 0
    latencies = {series.name: series.latest for series in sampler.latencies("catalog")}
    assert latencies["p50"] is not None and 0 < latencies["p50"] <= latencies["p99"]  # type: ignore[operator]

    admin = await admin_of(shop)
    partial = await admin.get("/admin/partials/charts")
    assert partial.status_code == 200
    assert partial.text.count("<svg") >= 5
    assert sampler.watched  # reading the charts starts the sampler
    assert '<title id="chart-requests-title">Request rate per service</title>' in partial.text
    assert re.search(r'<polyline class="series series-\d+" points="[\d., ]+"', partial.text)
    assert "catalog latency" in partial.text
    assert "<html" not in partial.text  # a fragment for htmx, not a page


async def test_a_broken_service_turns_red_while_the_dashboard_still_answers(shop: Shop) -> None:
    admin = await admin_of(shop)
    context = shop.embedded.contexts["inventory"]
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


async def test_pages_degrade_to_an_unavailable_box_when_their_service_is_down(shop: Shop) -> None:
    admin = await admin_of(shop)
    product = (await shop.products())[0]
    with shop.down("inventory"):
        listing = await admin.get("/admin/products")
        form = await admin.get(f"/admin/products/{product['id']}")
    assert listing.status_code == 200 and '<table class="products">' in listing.text
    assert '<span class="muted">unavailable</span>' in listing.text
    assert form.status_code == 200 and "Inventory is unavailable right now." in form.text
    with shop.down("catalog"):
        listing = await admin.get("/admin/products")
        edit = await admin.get(f"/admin/products/{product['id']}")
    assert listing.status_code == 200 and "The catalog is unavailable right now." in listing.text
    assert edit.status_code == 503 and "The catalog is unavailable right now." in edit.text
    with shop.down("currency"):
        rates = await admin.get("/admin/currency")
        token = await csrf_of(admin, "/admin/products")
        refused = await admin.post("/admin/currency/EUR", data={"csrf_token": token, "rate_per_usd": "0.5"})
    assert rates.status_code == 200 and "Currency rates are unavailable right now." in rates.text
    assert refused.status_code == 503 and "nothing changed" in refused.text
    analytics = await admin.get("/admin/analytics")  # analytics is not part of this shop
    assert analytics.status_code == 200 and "Order analytics are unavailable right now." in analytics.text


async def test_currency_rates_are_set_and_a_bad_rate_changes_nothing(shop: Shop) -> None:
    admin = await admin_of(shop)
    page = await admin.get("/admin/currency")
    assert page.status_code == 200 and 'action="/admin/currency/GBP"' in page.text
    token = await csrf_of(admin, "/admin/currency")

    async def gbp() -> str:
        rates = (await shop.client.get("/api/currency/currencies")).json()["items"]
        return next(str(rate["rate_per_usd"]) for rate in rates if rate["code"] == "GBP")

    before = await gbp()
    bad = await admin.post("/admin/currency/GBP", data={"csrf_token": token, "rate_per_usd": "-1"})
    assert bad.status_code == 422 and "flash error" in bad.text
    # the message is next to GBP's field, in plain words, with what was typed (issue 17)
    assert 'id="rate-GBP-error"' in bad.text and 'aria-describedby="rate-GBP-error"' in bad.text
    assert "Enter a number above 0." in bad.text and 'value="-1"' in bad.text
    assert "body.rate_per_usd" not in bad.text and "rate_per_usd:" not in bad.text
    assert await gbp() == before
    assert (await admin.post("/admin/currency/GBP", data={"rate_per_usd": "0.5"})).status_code == 403
    assert await gbp() == before
    done = await admin.post("/admin/currency/GBP", data={"csrf_token": token, "rate_per_usd": before})
    assert done.status_code == 303 and done.headers["location"] == "/admin/currency?done=rate"


async def test_configuration_is_shown_with_secrets_masked_and_messaging_per_service(shop: Shop) -> None:
    admin = await admin_of(shop)
    config = await admin.get("/admin/config")
    assert config.status_code == 200
    secret = shop.embedded.contexts["identity"].platform.secret_key.get_secret_value()
    assert secret not in config.text and "********" in config.text
    assert 'data-service="identity"' in config.text and 'data-service="orders"' in config.text
    messaging = await admin.get("/admin/messaging")
    assert messaging.status_code == 200
    for name in ("identity", "catalog", "orders", "web"):
        assert f'<tr data-service="{name}">' in messaging.text
    token = await csrf_of(admin, "/admin/messaging")
    missing = await admin.post("/admin/messaging/orders/999999/replay", data={"csrf_token": token})
    assert missing.status_code == 404 and "No dead letter 999999" in missing.text
    unknown = await admin.post("/admin/messaging/nosuch/1/replay", data={"csrf_token": token})
    assert unknown.status_code == 404


async def test_an_image_upload_while_media_is_away_says_so_and_attaches_nothing(shop: Shop) -> None:
    admin = await admin_of(shop)
    product = await shop.create_product()
    token = await csrf_of(admin, f"/admin/products/{product['id']}")
    picture = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(picture, format="PNG")
    answer = await admin.post(
        f"/admin/products/{product['id']}/images",
        data={"csrf_token": token},
        files={"file": ("lamp.png", picture.getvalue(), "image/png")},
    )
    # media is not part of this shop: the embedded dispatcher answers its paths with a 404
    assert answer.status_code == 404 and "The image was not uploaded" in answer.text
    after = (await shop.client.get(f"/api/catalog/products/{product['id']}")).json()
    assert after["images"] == product["images"]


def slow_media(delay: float) -> Starlette:
    """media as the web sees it over HTTP, taking ``delay`` seconds to take any image (decoding,
    thumbnails); it knows the ids it handed out when the catalog looks them up."""
    issued: set[str] = set()

    async def upload(request: Request) -> JSONResponse:
        await request.body()
        await asyncio.sleep(delay)  # the work media does; nothing here waits for another task
        image_id = str(uuid.uuid4())
        issued.add(image_id)
        return JSONResponse({"id": image_id, "purpose": "product"}, status_code=201)

    async def lookup(request: Request) -> JSONResponse:
        ids = (await request.json())["ids"]
        return JSONResponse({"items": [{"id": i, "purpose": "product"} for i in ids if i in issued]})

    return Starlette(
        routes=[
            Route("/api/media/images", upload, methods=["POST"]),
            Route("/api/media/lookup", lookup, methods=["POST"]),
        ]
    )


@contextlib.contextmanager
def web_reaches_media_at(shop: Shop, address: str, **settings: float) -> Iterator[None]:
    """The web calls media over HTTP at ``address`` (as in the distributed mode: an in-process call
    has no timeout), with ``settings`` changed, until the block ends."""
    context = shop.embedded.contexts["web"]
    original = web_runtime(context)
    platform = context.platform.model_copy(update={"service_urls": {"media": f"http://{address}"}})
    media = create_service_client("media", settings=platform)
    context.runtime = dataclasses.replace(
        original,
        settings=original.settings.model_copy(update=settings),
        clients=lambda name: media if name == "media" else original.clients(name),
    )
    try:
        yield
    finally:
        context.runtime = original


async def test_an_image_upload_waits_for_media_as_long_as_its_size_needs(shop: Shop) -> None:
    """A page waits ``backend_timeout`` for a service; an upload ``upload_timeout`` plus
    ``upload_seconds_per_mib`` for each MiB, so media has the time to decode a large image."""
    admin = await admin_of(shop)
    product = await shop.create_product()
    token = await csrf_of(admin, f"/admin/products/{product['id']}")
    picture = io.BytesIO()
    Image.frombytes("RGB", (300, 300), random.Random(7).randbytes(300 * 300 * 3)).save(picture, format="PNG")
    assert picture.tell() > 256 * 1024  # noise does not compress

    async def upload() -> httpx.Response:
        return await admin.post(
            f"/admin/products/{product['id']}/images",
            data={"csrf_token": token},
            files={"file": ("noise.png", picture.getvalue(), "image/png")},
        )

    original_app, original_state = shop.embedded.apps.get("media"), shop.embedded.states.get("media")
    app = slow_media(delay=1.0)
    shop.embedded.apps["media"], shop.embedded.states["media"] = app, {}  # the catalog's lookup, in-process
    try:
        async with serving(app) as address:
            # half a second, whatever the size: media's second is too long, nothing is attached
            with web_reaches_media_at(shop, address, backend_timeout=0.5, upload_timeout=0.5, upload_seconds_per_mib=0):
                cut_off = await upload()
            assert cut_off.status_code == 503 and "The image was not uploaded" in cut_off.text
            assert (await shop.client.get(f"/api/catalog/products/{product['id']}")).json()["images"] == []
            # the same half second, and 8 s per MiB: a quarter of a MiB has 2.5 s
            with web_reaches_media_at(shop, address, backend_timeout=0.5, upload_timeout=0.5, upload_seconds_per_mib=8):
                taken = await upload()
            assert taken.status_code == 303, taken.text
            assert len((await shop.client.get(f"/api/catalog/products/{product['id']}")).json()["images"]) == 1
    finally:
        for registry, original in ((shop.embedded.apps, original_app), (shop.embedded.states, original_state)):
            if original is None:
                registry.pop("media", None)
            else:
                registry["media"] = original


def test_an_upload_waits_longer_the_larger_it_is() -> None:
    settings = WebSettings(upload_timeout=10, upload_seconds_per_mib=2)
    assert settings.upload_timeout_for(0) == 10
    assert settings.upload_timeout_for(10 * 1024 * 1024) == 30
    # by default media's largest image is answered within the 30 s the distributed front waits
    assert WebSettings().upload_timeout_for(10 * 1024 * 1024) == 25
