"""The account pages in-process: registration and login errors, logout, profile and addresses, order
history and detail, notifications."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from agora.platform.db.types import utcnow
from agora.platform.testing.waiting import eventually
from agora.services.identity.models import PasswordReset
from agora.services.notifications.models import Email
from tests.integration.web.conftest import PASSWORD, Shop, add, checkout_form, csrf_of

pytestmark = pytest.mark.backend("sqlite")

ADDRESS = {
    "label": "Home",
    "recipient": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


async def addresses_on(visitor: httpx.AsyncClient) -> list[str]:
    return re.findall(r'action="/account/addresses/([0-9a-f-]{36})/delete"', (await visitor.get("/account")).text)


async def test_registration_names_what_is_wrong_and_creates_nothing(shop: Shop) -> None:
    visitor = shop.person()
    token = await csrf_of(visitor, "/register")
    form = {"name": "Ada", "email": "ada-short@example.org", "password": "short", "csrf_token": token, "next": "/"}
    short = await visitor.post("/register", data=form)
    assert short.status_code == 422
    assert 'id="register-password-error"' in short.text and "at least 8 characters" in short.text
    # in plain words next to the field: never the API's field path or pydantic's phrasing (issue 17)
    assert "Check the fields marked below." in short.text
    assert "body.password" not in short.text and "Value error" not in short.text
    assert 'value="ada-short@example.org"' in short.text and 'value="short"' not in short.text
    login = await shop.client.post("/api/identity/login", json={"email": form["email"], "password": "short"})
    assert login.status_code == 401  # no account was made

    nameless = await visitor.post("/register", data={**form, "name": " ", "password": PASSWORD})
    assert nameless.status_code == 422 and 'id="register-name-error"' in nameless.text

    email = await shop.register(shop.person())
    taken = await visitor.post("/register", data={**form, "email": email, "password": PASSWORD})
    assert taken.status_code == 409
    assert "exists already" in taken.text and "agora_access" not in visitor.cookies


async def test_a_wrong_login_says_only_that_email_or_password_is_wrong(shop: Shop) -> None:
    email = await shop.register(shop.person())
    visitor = shop.person()
    token = await csrf_of(visitor, "/login")
    for attempt in (
        {"email": email, "password": "not the password"},
        {"email": "nobody@example.org", "password": PASSWORD},
    ):
        refused = await visitor.post("/login", data={**attempt, "csrf_token": token, "next": "/"})
        assert refused.status_code == 401
        assert "Email or password is wrong." in refused.text
        assert "agora_access" not in visitor.cookies
    accepted = await visitor.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 303 and "agora_access" in visitor.cookies


async def test_logging_out_ends_the_session_and_account_pages_ask_for_a_login(shop: Shop) -> None:
    visitor = shop.person()
    await shop.register(visitor)
    assert (await visitor.get("/account")).status_code == 200
    token = await csrf_of(visitor, "/account")
    out = await visitor.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert "agora_access" not in visitor.cookies
    checkout = await visitor.get("/checkout")  # signed out, checkout offers a login (or a guest's email)
    assert checkout.status_code == 200 and 'href="/login?next=/checkout"' in checkout.text
    for path in ("/account", "/account/orders", "/account/notifications"):
        gate = await visitor.get(path)
        assert gate.status_code == 303 and gate.headers["location"] == f"/login?next={path}", path


async def test_the_profile_name_and_addresses_change_and_bad_input_changes_nothing(shop: Shop) -> None:
    visitor = shop.person()
    await shop.register(visitor, name="Ada")
    token = await csrf_of(visitor, "/account")
    renamed = await visitor.post("/account/profile", data={"name": "Ada King", "csrf_token": token})
    assert renamed.status_code == 303
    page = await visitor.get(renamed.headers["location"])
    assert 'value="Ada King"' in page.text and "Your name is saved." in page.text

    added = await visitor.post("/account/addresses", data={**ADDRESS, "csrf_token": token})
    assert added.status_code == 303
    [address_id] = await addresses_on(visitor)
    bad = await visitor.post("/account/addresses", data={**ADDRESS, "country": "Germany", "csrf_token": token})
    assert bad.status_code == 422 and 'id="address-country-error"' in bad.text
    assert await addresses_on(visitor) == [address_id]
    checkout = await visitor.get("/checkout")
    assert "Your cart is empty" in checkout.text

    product = await shop.stocked_product()
    await add(visitor, product["id"])
    checkout = await visitor.get("/checkout")
    assert f'value="{address_id}" checked' in checkout.text
    assert "Standard shipping" in checkout.text  # quoted for the saved address

    deleted = await visitor.post(f"/account/addresses/{address_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert await addresses_on(visitor) == []


async def test_orders_and_notifications_are_listed_for_their_owner_only(shop: Shop) -> None:
    product = await shop.stocked_product()
    visitor = shop.person()
    await shop.register(visitor)
    await add(visitor, product["id"])
    placed = await visitor.post("/checkout", data=await checkout_form(visitor))
    assert placed.status_code == 303, placed.text
    order_path = placed.headers["location"].split("?")[0]
    history = await visitor.get("/account/orders")
    assert f'href="{order_path}"' in history.text and 'class="status paid"' in history.text
    detail = await visitor.get(order_path)
    assert "Visa ending in 4242" in detail.text or "ending in 4242" in detail.text
    assert "Thank you" not in detail.text  # only right after placing it

    other = shop.person()
    await shop.register(other)
    assert (await other.get(order_path)).status_code == 404
    assert 'href="/account/orders/' not in (await other.get("/account/orders")).text

    async def notified() -> str | None:
        page = (await visitor.get("/account/notifications")).text
        return page if page.count(f'href="{order_path}"') >= 2 else None  # placed, then paid

    page = await eventually(notified, within=30, what="the order's two notifications")
    assert 'class="unread"' in page
    token = await csrf_of(visitor, "/account/notifications")
    read = await visitor.post("/account/notifications/read-all", data={"csrf_token": token})
    assert read.status_code == 303
    page = (await visitor.get(read.headers["location"])).text
    assert 'class="unread"' not in page and "Notifications marked read." in page


async def test_a_forgotten_password_is_reset_by_a_single_use_emailed_link(shop: Shop) -> None:
    """Issue 17: "forgot password" by email: a token link, single use, expiring; the page never says
    whether an account exists."""
    email = await shop.register(shop.person())
    visitor = shop.person()
    login_page = await visitor.get("/login")
    assert 'href="/forgot-password"' in login_page.text
    token = await csrf_of(visitor, "/forgot-password")
    asked = await visitor.post("/forgot-password", data={"email": email, "csrf_token": token})
    stranger = await visitor.post("/forgot-password", data={"email": "nobody-here@example.org", "csrf_token": token})
    assert asked.status_code == stranger.status_code == 200
    assert "If an account uses" in asked.text and "If an account uses" in stranger.text

    link_token = await eventually(lambda: _reset_link(shop, email, PASSWORD, ""), within=20, what="the reset email")
    form = await visitor.get(f"/reset-password?token={link_token}")
    assert form.status_code == 200 and f'value="{link_token}"' in form.text
    short = await visitor.post("/reset-password", data={"token": link_token, "password": "short", "csrf_token": token})
    assert short.status_code == 422 and 'id="reset-password-error"' in short.text and "8 characters" in short.text

    new_password = "a brand new passphrase for ada"
    done = await visitor.post(
        "/reset-password", data={"token": link_token, "password": new_password, "csrf_token": token}
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    assert "Your new password is saved" in (await visitor.get("/login?reset=1")).text
    old = await shop.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
    new = await shop.client.post("/api/identity/login", json={"email": email, "password": new_password})
    assert (old.status_code, new.status_code) == (401, 200)

    again = await visitor.post("/reset-password", data={"token": link_token, "password": PASSWORD, "csrf_token": token})
    assert again.status_code == 400 and "expired or was used already" in again.text
    forged = await visitor.post("/reset-password", data={"token": "x" * 43, "password": PASSWORD, "csrf_token": token})
    assert forged.status_code == 400
    assert (
        await shop.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
    ).status_code == 401

    # a link past its time is refused like a used one
    await visitor.post("/forgot-password", data={"email": email, "csrf_token": token})
    async with shop.embedded.contexts["identity"].sessions() as session:
        await session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    second = await eventually(
        lambda: _reset_link(shop, email, new_password, link_token), within=20, what="the second reset email"
    )
    late = await visitor.post("/reset-password", data={"token": second, "password": PASSWORD, "csrf_token": token})
    assert late.status_code == 400 and "expired or was used already" in late.text


async def _reset_link(shop: Shop, email: str, password: str, first: str) -> str | None:
    """A reset link's token, other than ``first``, among the emails queued for ``email``'s account."""
    user = await shop.client.post("/api/identity/login", json={"email": email, "password": password})
    me = await shop.client.get("/api/identity/me", headers={"Authorization": f"Bearer {user.json()['access_token']}"})
    if me.status_code != 200:
        # a reset cuts off the user's tokens issued up to its second (token times are whole
        # seconds): a login in that same second is refused, the next one is not
        return None
    async with shop.embedded.contexts["notifications"].sessions() as session:
        rows = (await session.scalars(select(Email.body).where(Email.user_id == me.json()["id"]))).all()
    tokens = set(re.findall(r"/reset-password\?token=([A-Za-z0-9_-]+)", "".join(rows))) - {first}
    return next(iter(tokens), None)


async def test_too_many_reset_requests_get_a_page_that_says_to_wait(shop: Shop) -> None:
    """identity throttles reset requests per email (3 in its window): the fourth is a 429 page
    that says so, not a complaint about the email address."""
    email = await shop.register(shop.person())
    visitor = shop.person()
    token = await csrf_of(visitor, "/forgot-password")
    answers = [await visitor.post("/forgot-password", data={"email": email, "csrf_token": token}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert "Too many reset requests" in answers[3].text and 'aria-invalid="true"' not in answers[3].text
