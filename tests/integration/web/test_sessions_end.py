"""Logging out and disabling end the session in every service within seconds, not when the access
token would have expired (issue 12, defect 3), in the embedded shop.

Each test keeps the old token (what a thief, or a second tab, still holds), ends the session, and
polls identity's ``/me``, orders, the cart and the web's account page with it under a deadline:
every one must refuse it, and the time that took is asserted against the bound.
"""

from __future__ import annotations

import time

import httpx

from agora.platform.auth.cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from agora.platform.testing.waiting import eventually
from tests.integration.web.conftest import PASSWORD, Shop, csrf_of

#: Embedded, identity's events reach every service's verifier through the in-process broker.
BOUND_SECONDS = 3.0
APIS = ("/api/identity/me", "/api/orders", "/api/cart")


async def _statuses(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    answers = {path: (await client.get(path, headers=headers)).status_code for path in APIS}
    page = await client.get("/account", headers={**headers, "accept": "text/html"})
    answers["/account"] = page.status_code
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login"), page.headers["location"]
    return answers


async def _refused_everywhere(client: httpx.AsyncClient, headers: dict[str, str], *, what: str) -> float:
    """Polls until every API says 401 and the account page sends to the login; returns how long."""
    started = time.monotonic()
    refused = {**dict.fromkeys(APIS, 401), "/account": 303}

    async def everywhere() -> bool:
        return await _statuses(client, headers) == refused

    await eventually(everywhere, within=BOUND_SECONDS * 4, what=what)
    took = time.monotonic() - started
    assert took <= BOUND_SECONDS, f"{what} took {took:.2f}s"
    return took


async def _bearer_session(shop: Shop, email: str) -> dict[str, str]:
    login = await shop.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return login.json()  # type: ignore[no-any-return]


def _bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_a_cookie_logout_ends_the_session_in_every_service(shop: Shop) -> None:
    visitor = shop.person()
    email = await shop.register(visitor)
    old_access = visitor.cookies[ACCESS_COOKIE]
    stolen = {"cookie": f"{ACCESS_COOKIE}={old_access}"}
    assert await _statuses(shop.client, stolen) == {**dict.fromkeys(APIS, 200), "/account": 200}

    # what the page's log-out button does: identity revokes the session and clears the cookies
    logout = await visitor.post(
        "/api/identity/logout",
        headers={CSRF_HEADER: visitor.cookies[CSRF_COOKIE], "accept": "application/json"},
    )
    assert logout.status_code == 204, logout.text
    assert REFRESH_COOKIE not in visitor.cookies

    await _refused_everywhere(shop.client, stolen, what="the logged-out cookie refused everywhere")
    # the session ended, not the account: a new login works at once
    fresh = await _bearer_session(shop, email)
    assert (await shop.client.get("/api/orders", headers=_bearer(fresh))).status_code == 200


async def test_the_log_out_form_without_script_ends_the_session_too(shop: Shop) -> None:
    """The web never sees the refresh cookie (scoped to /api/identity): identity ends the session
    that the access token names."""
    visitor = shop.person()
    await shop.register(visitor)
    stolen = {"cookie": f"{ACCESS_COOKIE}={visitor.cookies[ACCESS_COOKIE]}"}
    out = await visitor.post("/logout", data={"csrf_token": await csrf_of(visitor, "/account")})
    assert out.status_code == 303 and ACCESS_COOKIE not in visitor.cookies
    await _refused_everywhere(shop.client, stolen, what="the cookie of a form logout refused everywhere")


async def test_a_bearer_logout_ends_that_session_only(shop: Shop) -> None:
    email = await shop.register(shop.person())
    ended, kept = await _bearer_session(shop, email), await _bearer_session(shop, email)
    assert (await shop.client.get("/api/orders", headers=_bearer(ended))).status_code == 200

    logout = await shop.client.post("/api/identity/logout", json={"refresh_token": ended["refresh_token"]})
    assert logout.status_code == 204, logout.text

    await _refused_everywhere(shop.client, _bearer(ended), what="the logged-out bearer token refused everywhere")
    for path in APIS:  # the user's other session (another device) goes on
        assert (await shop.client.get(path, headers=_bearer(kept))).status_code == 200, path
    refreshed = await shop.client.post("/api/identity/refresh", json={"refresh_token": ended["refresh_token"]})
    assert refreshed.status_code == 401


async def test_disabling_a_user_ends_their_sessions_in_every_service(shop: Shop) -> None:
    visitor = shop.person()
    email = await shop.register(visitor)
    tokens = await _bearer_session(shop, email)
    cookie = {"cookie": f"{ACCESS_COOKIE}={visitor.cookies[ACCESS_COOKIE]}"}
    me = (await shop.client.get("/api/identity/me", headers=_bearer(tokens))).json()

    disabled = await shop.client.patch(
        f"/api/identity/users/{me['id']}", json={"is_active": False}, headers=await shop.admin_headers()
    )
    assert disabled.status_code == 200, disabled.text

    await _refused_everywhere(shop.client, _bearer(tokens), what="the disabled user's bearer token refused")
    await _refused_everywhere(shop.client, cookie, what="the disabled user's cookie session refused")
    relogin = await shop.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
    assert relogin.status_code == 401
