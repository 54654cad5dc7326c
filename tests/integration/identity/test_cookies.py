"""The browser's session through HTTP: cookies instead of bearer tokens, and CSRF for them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from agora.platform.auth.cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE

from .conftest import API, PASSWORD, Identity, bearer

COOKIES = (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE)


@pytest.fixture
async def browser(identity: Identity) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar (the shared client must stay cookie-free)."""
    transport = httpx.ASGITransport(app=identity.embedded, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://agora.test") as client:
        yield client


def set_cookies(response: httpx.Response) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (value, lower-cased attributes) of every Set-Cookie in the response."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        attrs = {}
        for item in rest:
            key, _, val = item.partition("=")
            attrs[key.lower()] = val
        found[name] = (value.strip('"'), attrs)
    return found


async def login(browser: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await browser.post(
        f"{API}/login", params={"session": "cookie"}, json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response


async def test_the_browser_session_from_login_to_logout(identity: Identity, browser: httpx.AsyncClient) -> None:
    email = await identity.register()
    response = await login(browser, email)

    # the tokens are in cookies, not in the body; the body has what the page needs
    body = response.json()
    assert "access_token" not in body and "refresh_token" not in body
    assert body["token_type"] == "cookie" and body["expires_in"] == 600
    cookies = set_cookies(response)
    assert set(cookies) == set(COOKIES)
    access, refresh, csrf = (cookies[name] for name in COOKIES)
    assert access[1]["path"] == "/" and access[1]["max-age"] == "600"
    assert "httponly" in access[1] and access[1]["samesite"].lower() in ("lax", "strict")
    assert refresh[1]["path"] == "/api/identity" and refresh[1]["max-age"] == str(14 * 24 * 3600)
    assert "httponly" in refresh[1] and refresh[1]["samesite"].lower() == "strict"
    assert "httponly" not in csrf[1] and csrf[0] == body["csrf_token"]
    assert all("secure" not in attrs for _, attrs in cookies.values())  # plain http in the test environment
    assert response.headers["cache-control"] == "no-store"

    # the cookie alone authenticates
    me = await browser.get(f"{API}/me")
    assert me.status_code == 200 and me.json()["email"] == email

    # an unsafe request without the CSRF header is refused and changes nothing
    refused = await browser.patch(f"{API}/me", json={"display_name": "Forged"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert CSRF_HEADER in refused.json()["detail"]
    assert (await identity.user(email)).display_name != "Forged"

    changed = await browser.patch(f"{API}/me", json={"display_name": "Real"}, headers={CSRF_HEADER: csrf[0]})
    assert changed.status_code == 200 and changed.json()["display_name"] == "Real"
    assert (await identity.user(email)).display_name == "Real"

    # logout needs the CSRF header too, revokes the session and clears all three cookies
    stale_refresh = browser.cookies.get(REFRESH_COOKIE, path="/api/identity")
    assert (await browser.post(f"{API}/logout")).status_code == 403
    out = await browser.post(f"{API}/logout", headers={CSRF_HEADER: csrf[0]})
    assert out.status_code == 204
    cleared = set_cookies(out)
    assert set(cleared) == set(COOKIES)
    assert all(attrs["max-age"] == "0" and value == "" for value, attrs in cleared.values())
    assert cleared[REFRESH_COOKIE][1]["path"] == "/api/identity"
    assert not browser.cookies

    assert (await browser.get(f"{API}/me")).status_code == 401
    # the refresh cookie (kept by a careless or malicious client) no longer works
    browser.cookies.set(REFRESH_COOKIE, stale_refresh, domain="agora.test", path="/api/identity")
    browser.cookies.set(CSRF_COOKIE, csrf[0], domain="agora.test", path="/")
    again = await browser.post(f"{API}/refresh", headers={CSRF_HEADER: csrf[0]})
    assert again.status_code == 401


async def test_refresh_by_cookie_rotates_the_cookies(identity: Identity, browser: httpx.AsyncClient) -> None:
    email = await identity.register()
    first = set_cookies(await login(browser, email))
    old_csrf = first[CSRF_COOKIE][0]

    assert (await browser.post(f"{API}/refresh")).status_code == 403  # no CSRF header
    rotated = await browser.post(f"{API}/refresh", headers={CSRF_HEADER: old_csrf})
    assert rotated.status_code == 200, rotated.text
    new = set_cookies(rotated)
    assert set(new) == set(COOKIES)
    assert all(new[name][0] != first[name][0] for name in COOKIES)
    assert "access_token" not in rotated.json()

    # the new session works, with the new CSRF token only
    assert (await browser.get(f"{API}/me")).status_code == 200
    stale = await browser.patch(f"{API}/me", json={"display_name": "Stale"}, headers={CSRF_HEADER: old_csrf})
    assert stale.status_code == 403
    fresh = await browser.patch(f"{API}/me", json={"display_name": "Fresh"}, headers={CSRF_HEADER: new[CSRF_COOKIE][0]})
    assert fresh.status_code == 200

    # the spent refresh cookie replayed: refused, the family revoked, the cookies cleared
    replay = await browser.post(
        f"{API}/refresh",
        headers={
            CSRF_HEADER: old_csrf,
            "Cookie": f"{REFRESH_COOKIE}={first[REFRESH_COOKIE][0]}; {CSRF_COOKIE}={old_csrf}",
        },
    )
    assert replay.status_code == 401
    assert all(attrs["max-age"] == "0" for _, attrs in set_cookies(replay).values())


async def test_a_csrf_token_from_another_session_is_refused(identity: Identity, browser: httpx.AsyncClient) -> None:
    victim = await identity.register()
    attacker = await identity.register()
    attackers_csrf = set_cookies(await login(browser, attacker))[CSRF_COOKIE][0]
    browser.cookies.clear()
    await login(browser, victim)

    # the attacker's own (valid) CSRF token, as header and planted cookie, against the victim's session
    browser.cookies.set(CSRF_COOKIE, attackers_csrf, domain="agora.test", path="/")
    forged = await browser.patch(f"{API}/me", json={"display_name": "Pwned"}, headers={CSRF_HEADER: attackers_csrf})
    assert forged.status_code == 403
    assert forged.json()["errors"][0]["field"] == CSRF_HEADER
    assert (await identity.user(victim)).display_name != "Pwned"
    address = {"recipient": "A", "line1": "1 Main St", "city": "X", "postal_code": "1", "country": "FR"}
    assert (
        await browser.post(f"{API}/me/addresses", json=address, headers={CSRF_HEADER: attackers_csrf})
    ).status_code == 403


async def test_bearer_clients_are_unaffected(identity: Identity) -> None:
    email = await identity.register()
    response = await identity.client.post(f"{API}/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    tokens = response.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    changed = await identity.client.patch(
        f"{API}/me", json={"display_name": "Bearer"}, headers=bearer(tokens["access_token"])
    )
    assert changed.status_code == 200  # no CSRF token needed
    rotated = await identity.client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200 and "set-cookie" not in rotated.headers
    out = await identity.client.post(f"{API}/logout", json={"refresh_token": rotated.json()["refresh_token"]})
    assert out.status_code == 204 and "set-cookie" not in out.headers
    assert not identity.client.cookies


async def test_cookies_are_secure_over_https(identity: Identity, browser: httpx.AsyncClient) -> None:
    email = await identity.register()
    response = await browser.post(
        "https://agora.test/api/identity/login",
        params={"session": "cookie"},
        json={"email": email, "password": PASSWORD},
    )
    assert response.status_code == 200
    assert all("secure" in attrs for _, attrs in set_cookies(response).values())


async def test_refresh_or_logout_without_a_token_or_cookie_is_401(identity: Identity) -> None:
    # no credential at all, as the document says (a schema-valid empty body is not a 422)
    for path in ("refresh", "logout"):
        response = await identity.client.post(f"{API}/{path}")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["errors"][0]["field"] == "body.refresh_token"
