"""identity throttles per client address; through the web it must count each visitor's, not the web's.

The web calls identity in-process (embedded mode): the chassis's transport believes the visitor's
address the web forwards, while a request from outside keeps its own address whatever it claims.
identity allows 20 failed logins and 20 reset requests per address in its window (the defaults).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.integration.web.conftest import PASSWORD, Shop, csrf_of

pytestmark = pytest.mark.backend("sqlite")

PER_ADDRESS = 20


def visitor_from(shop: Shop, address: str) -> httpx.AsyncClient:
    """A browser whose requests reach the site from ``address`` (closed by the fixture)."""
    visitor = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=shop.embedded, raise_app_exceptions=False, client=(address, 40000)),
        base_url="http://agora.test",
        headers={"accept": "text/html,application/xhtml+xml"},
    )
    shop.people.append(visitor)
    return visitor


def nobody() -> str:
    return f"nobody-{uuid.uuid4().hex[:10]}@example.org"


async def test_one_visitor_out_of_login_attempts_does_not_lock_out_another(shop: Shop) -> None:
    email = await shop.register(shop.person())
    guesser, other = visitor_from(shop, "198.51.100.7"), visitor_from(shop, "198.51.100.8")
    token = await csrf_of(guesser, "/login")
    for _ in range(PER_ADDRESS):  # one email each: the per-account limit (5) never applies
        refused = await guesser.post("/login", data={"email": nobody(), "password": PASSWORD, "csrf_token": token})
        assert refused.status_code == 401, refused.text
    throttled = await guesser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert throttled.status_code == 429 and "Too many attempts" in throttled.text
    assert "agora_access" not in guesser.cookies

    other_token = await csrf_of(other, "/login")
    wrong = await other.post("/login", data={"email": nobody(), "password": PASSWORD, "csrf_token": other_token})
    assert wrong.status_code == 401, wrong.text
    accepted = await other.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": other_token})
    assert accepted.status_code == 303 and "agora_access" in other.cookies


async def test_one_visitor_out_of_reset_requests_does_not_block_another(shop: Shop) -> None:
    asker, other = visitor_from(shop, "198.51.100.17"), visitor_from(shop, "198.51.100.18")
    token = await csrf_of(asker, "/forgot-password")
    for _ in range(PER_ADDRESS):
        sent = await asker.post("/forgot-password", data={"email": nobody(), "csrf_token": token})
        assert sent.status_code == 200, sent.text
    refused = await asker.post("/forgot-password", data={"email": nobody(), "csrf_token": token})
    assert refused.status_code == 429 and "Too many reset requests" in refused.text

    other_token = await csrf_of(other, "/forgot-password")
    sent = await other.post("/forgot-password", data={"email": nobody(), "csrf_token": other_token})
    assert sent.status_code == 200, sent.text


async def test_a_request_from_outside_cannot_claim_another_address(shop: Shop) -> None:
    """The site's own surface ignores X-Forwarded-For: only the in-process service calls carry it."""
    caller = visitor_from(shop, "198.51.100.27")
    for number in range(PER_ADDRESS):
        refused = await caller.post(
            "/api/identity/login",
            json={"email": nobody(), "password": PASSWORD},
            headers={"x-forwarded-for": f"192.0.2.{number + 1}"},
        )
        assert refused.status_code == 401, refused.text
    forged = await caller.post(
        "/api/identity/login",
        json={"email": nobody(), "password": PASSWORD},
        headers={"x-forwarded-for": "192.0.2.200"},
    )
    assert forged.status_code == 429, forged.text
    # the same through the web's form: the forged header does not reach identity as the address
    token = await csrf_of(caller, "/login")
    page = await caller.post(
        "/login",
        data={"email": nobody(), "password": PASSWORD, "csrf_token": token},
        headers={"x-forwarded-for": "192.0.2.201"},
    )
    assert page.status_code == 429, page.text
