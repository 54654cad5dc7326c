"""The web's frame, in-process: security headers, CSRF on forms, sessions that stop, degradation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.services import catalog, identity, web
from agora.services.identity.operations import create_admin

pytestmark = pytest.mark.backend("sqlite")

PASSWORD = "a long enough test passphrase"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    client: httpx.AsyncClient
    embedded: object


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    platform = platform_for_tests(tmp_path)
    async with running_services([identity.spec, catalog.spec, web.spec], platform, seed=True) as (client, embedded):
        yield Site(client, embedded)


def browser(site: Site) -> httpx.AsyncClient:
    """A second client on the same app with its own cookie jar, sending what a browser sends."""
    return httpx.AsyncClient(
        transport=site.client._transport,
        base_url="http://agora.test",
        headers={"accept": "text/html,application/xhtml+xml"},
    )


async def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    async with browser(site) as b:
        page = await b.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # every script is a file: <script src=...>
    assert re.search(r"\son[a-z]+=", page.text) is None  # and no inline event handlers


async def test_htmx_is_served_locally_with_a_long_cache(site: Site) -> None:
    async with browser(site) as b:
        page = await b.get("/")
        src = re.search(r'src="(/static/vendor/htmx/htmx\.min\.js\?v=[0-9a-f]+)"', page.text)
        assert src is not None
        script = await b.get(src.group(1))
    assert script.status_code == 200 and b"htmx" in script.content[:5000]
    assert "immutable" in script.headers["cache-control"]


async def test_unknown_page_is_an_html_404_for_browsers_and_a_problem_for_apis(site: Site) -> None:
    async with browser(site) as b:
        page = await b.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await site.client.get("/no/such/page", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    async with browser(site) as b:
        await b.get("/")  # the anonymous form cookie
        refused = await b.post("/currency", data={"currency": "EUR", "next": "/"})
        assert refused.status_code == 403
        assert "agora_currency" not in refused.headers.get("set-cookie", "")
        wrong = await b.post("/currency", data={"currency": "EUR", "next": "/", "csrf_token": "forged"})
        assert wrong.status_code == 403

        token = CSRF_INPUT.search((await b.get("/")).text)
        assert token is not None
        done = await b.post(
            "/currency", data={"currency": "EUR", "next": "//evil.example/", "csrf_token": token.group(1)}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/"  # never off-site
        assert "agora_currency=EUR" in done.headers["set-cookie"]
        assert "priced in EUR" in (await b.get("/")).text


async def test_a_disabled_account_loses_its_session_at_the_next_page(site: Site) -> None:
    email = "session-shopper@example.org"
    registered = await site.client.post("/api/identity/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    await create_admin(site.embedded.contexts["identity"], email="web-admin@example.org", password=PASSWORD)  # type: ignore[attr-defined]
    login = await site.client.post("/api/identity/login", json={"email": "web-admin@example.org", "password": PASSWORD})
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}

    async with browser(site) as b:
        session = await b.post("/api/identity/login?session=cookie", json={"email": email, "password": PASSWORD})
        assert session.status_code == 200, session.text
        signed_in = await b.get("/")
        assert email in signed_in.text and 'data-signed-in="true"' in signed_in.text

        user_id = (await b.get("/api/identity/me")).json()["id"]
        disabled = await site.client.patch(f"/api/identity/users/{user_id}", json={"is_active": False}, headers=admin)
        assert disabled.status_code == 200, disabled.text

        after = await b.get("/")
        assert after.status_code == 200
        assert email not in after.text and 'data-signed-in="false"' in after.text


async def test_a_page_degrades_when_a_service_it_draws_from_is_missing(tmp_path: Path) -> None:
    platform = platform_for_tests(tmp_path)
    async with running_services([identity.spec, web.spec], platform) as (client, _):
        page = await client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unavailable right now" in page.text
