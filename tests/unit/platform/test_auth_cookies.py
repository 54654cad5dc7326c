"""The chassis side of browser sessions: the access token from the cookie, and CSRF for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from agora.platform.auth import CurrentSubject, OptionalSubject, TokenVerifier
from agora.platform.auth.cookies import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    CSRF_HEADER,
    REFRESH_COOKIE,
    clear_session_cookies,
    cookies_secure,
    csrf_token_for,
    set_session_cookies,
)
from agora.platform.auth.keys import generate_private_key, jwks_document, mint_access_token
from agora.platform.http.problems import install_problem_handlers
from agora.platform.settings import Environment, PlatformSettings

KEY = generate_private_key()
ISSUER, AUDIENCE = "agora-identity", "agora"
PLATFORM = PlatformSettings(environment=Environment.test)
SECRET = PLATFORM.secret_key.get_secret_value()


def token(jti: str = "session-1") -> str:
    return mint_access_token(
        KEY, subject="u1", roles=["customer"], issuer=ISSUER, audience=AUDIENCE, extra_claims={"jti": jti}
    )


class App:
    def __init__(self) -> None:
        self.fetches = 0
        self.changes = 0

        async def fetch() -> dict[str, Any]:
            self.fetches += 1
            return jwks_document([KEY])

        verifier = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE)
        app = FastAPI()
        install_problem_handlers(app)

        @app.middleware("http")
        async def state(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            # what the chassis's lifespan state carries: the service context
            request.state.context = SimpleNamespace(token_verifier=verifier, platform=PLATFORM)
            return await call_next(request)

        @app.get("/whoami")
        async def whoami(subject: OptionalSubject) -> dict[str, Any]:
            return {"id": subject.id if subject else None}

        @app.api_route("/things", methods=["POST", "PUT", "PATCH", "DELETE"])
        async def change(subject: CurrentSubject) -> dict[str, Any]:
            self.changes += 1
            return {"id": subject.id}

        @app.options("/things")
        async def options(subject: CurrentSubject) -> dict[str, Any]:
            return {"id": subject.id}

        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc.test")


@pytest.fixture
async def svc() -> Any:
    app = App()
    async with app.client:
        yield app


def cookie_header(**cookies: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def session(jti: str = "session-1") -> dict[str, str]:
    """A browser's cookies for one session, as identity sets them."""
    return {ACCESS_COOKIE: token(jti), CSRF_COOKIE: csrf_token_for(SECRET, jti)}


async def test_no_header_and_no_cookie_is_anonymous_without_touching_the_verifier(svc: App) -> None:
    response = await svc.client.get("/whoami", headers=cookie_header(theme="dark"))
    assert response.status_code == 200 and response.json() == {"id": None}
    assert svc.fetches == 0


async def test_the_access_cookie_authenticates_safe_requests_without_a_csrf_token(svc: App) -> None:
    response = await svc.client.get("/whoami", headers=cookie_header(**{ACCESS_COOKIE: token()}))
    assert response.json() == {"id": "u1"}


async def test_an_invalid_access_cookie_is_401(svc: App) -> None:
    response = await svc.client.get("/whoami", headers=cookie_header(**{ACCESS_COOKIE: token()[:-4] + "AAAA"}))
    assert response.status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_cookie_authenticated_unsafe_requests_need_the_csrf_header(svc: App, method: str) -> None:
    response = await svc.client.request(method, "/things", headers=cookie_header(**session()))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert CSRF_HEADER in problem["detail"]
    assert problem["errors"][0]["field"] == CSRF_HEADER
    assert svc.changes == 0


async def test_the_right_csrf_header_passes(svc: App) -> None:
    cookies = session()
    headers = {**cookie_header(**cookies), CSRF_HEADER: cookies[CSRF_COOKIE]}
    response = await svc.client.post("/things", headers=headers)
    assert response.status_code == 200 and response.json() == {"id": "u1"}
    assert svc.changes == 1


@pytest.mark.parametrize(
    "case",
    [
        "header and cookie equal but not derived from the session",
        "header right, csrf cookie missing",
        "header right, csrf cookie different",
        "header and cookie from another session",
        "header from another session",
        "header with the wrong case",
    ],
)
async def test_csrf_tokens_that_do_not_belong_to_the_session_are_refused(svc: App, case: str) -> None:
    cookies = session("session-1")
    mine = cookies[CSRF_COOKIE]
    other = csrf_token_for(SECRET, "session-2")
    header = mine
    if case.startswith("header and cookie equal"):
        cookies[CSRF_COOKIE] = header = "attacker-chosen-value"
    elif case == "header right, csrf cookie missing":
        del cookies[CSRF_COOKIE]
    elif case == "header right, csrf cookie different":
        cookies[CSRF_COOKIE] = other
    elif case == "header and cookie from another session":
        cookies[CSRF_COOKIE] = header = other
    elif case == "header from another session":
        header = other
    else:
        header = mine.swapcase()
    response = await svc.client.post("/things", headers={**cookie_header(**cookies), CSRF_HEADER: header})
    assert response.status_code == 403, case
    assert svc.changes == 0


async def test_bearer_requests_need_no_csrf_token_and_win_over_the_cookie(svc: App) -> None:
    response = await svc.client.post("/things", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200
    # a session cookie alongside the bearer token is ignored: no CSRF check, the bearer subject
    headers = {"Authorization": f"Bearer {token()}", **cookie_header(**{ACCESS_COOKIE: "garbage"})}
    assert (await svc.client.delete("/things", headers=headers)).status_code == 200


async def test_a_malformed_authorization_header_does_not_fall_back_to_the_cookie(svc: App) -> None:
    headers = {"Authorization": "Basic dTpw", **cookie_header(**{ACCESS_COOKIE: token()})}
    assert (await svc.client.get("/whoami", headers=headers)).status_code == 401


async def test_options_is_a_safe_method(svc: App) -> None:
    response = await svc.client.options("/things", headers=cookie_header(**{ACCESS_COOKIE: token()}))
    assert response.status_code == 200


def test_csrf_tokens_are_bound_to_secret_and_token_id() -> None:
    a = csrf_token_for(SECRET, "j1")
    assert a == csrf_token_for(SECRET, "j1")
    assert a != csrf_token_for(SECRET, "j2")
    assert a != csrf_token_for(SECRET + "x", "j1")
    assert len(a) >= 43 and "=" not in a


def attributes(set_cookie: str) -> tuple[str, str, dict[str, str]]:
    first, *rest = (part.strip() for part in set_cookie.split(";"))
    name, _, value = first.partition("=")
    attrs = {}
    for item in rest:
        key, _, val = item.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def test_session_cookie_attributes() -> None:
    response = Response()
    set_session_cookies(
        response,
        access_token="acc",
        access_ttl_seconds=600,
        refresh_token="ref",
        refresh_ttl_seconds=3600,
        csrf_token="csrf",
        secure=True,
    )
    cookies = {name: (value, attrs) for name, value, attrs in map(attributes, response.headers.getlist("set-cookie"))}
    access, refresh, csrf = cookies[ACCESS_COOKIE], cookies[REFRESH_COOKIE], cookies[CSRF_COOKIE]
    assert access[0] == "acc" and access[1]["max-age"] == "600" and access[1]["path"] == "/"
    assert access[1]["samesite"].lower() == "lax"
    assert refresh[0] == "ref" and refresh[1]["max-age"] == "3600" and refresh[1]["path"] == "/api/identity"
    assert refresh[1]["samesite"].lower() == "strict"
    assert csrf[0] == "csrf" and csrf[1]["path"] == "/"
    for _, attrs in (access, refresh, csrf):
        assert "secure" in attrs
    assert "httponly" in access[1] and "httponly" in refresh[1]
    assert "httponly" not in csrf[1]  # the page's script must read it


def test_clearing_expires_all_three_on_their_paths() -> None:
    response = Response()
    clear_session_cookies(response, secure=False)
    cleared = {name: attrs for name, _, attrs in map(attributes, response.headers.getlist("set-cookie"))}
    assert set(cleared) == {ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE}
    assert all(attrs["max-age"] == "0" for attrs in cleared.values())
    assert cleared[REFRESH_COOKIE]["path"] == "/api/identity"


def request_for(url: str) -> Request:
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return Request(
        {"type": "http", "scheme": scheme, "server": (host, 443), "path": "/" + path, "headers": [], "method": "GET"}
    )


def test_secure_over_https_or_outside_development() -> None:
    assert cookies_secure(request_for("https://shop.test/x"), PLATFORM)
    assert not cookies_secure(request_for("http://localhost/x"), PLATFORM)
    production = PlatformSettings(
        environment=Environment.production,
        secret_key="p" * 40,  # type: ignore[arg-type]
        service_secret="s" * 40,  # type: ignore[arg-type]
    )
    assert cookies_secure(request_for("http://behind-a-proxy/x"), production)
