"""The account pages: register, log in and out, profile and addresses, orders, notifications.

Logging in asks identity for a cookie session (``POST /api/identity/login?session=cookie``) and
copies the cookies it sets onto the page's redirect; the anonymous cart then merges into the
user's (``storefront.merge_anonymous_cart``). Logging out asks identity to end the session the
access token names (its ``sid``: the refresh cookie is scoped to ``/api/identity`` and never
reaches the web) and clears the session cookies; the page's script calls ``/api/identity/logout``
itself first, which also revokes the refresh cookie.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from http.cookies import SimpleCookie
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from agora.platform.auth.cookies import ACCESS_COOKIE, clear_session_cookies
from agora.services.web.backend import UNAVAILABLE, problem_detail
from agora.services.web.pages import ThisVisit, Visit
from agora.services.web.routes.storefront import (
    cart_count,
    is_uuid,
    merge_anonymous_cart,
    page,
    safe_next,
)
from agora.services.web.session import CSRF_FIELD, Visitor, login_redirect, this_page

router = APIRouter()

Csrf = Annotated[str, Form(alias=CSRF_FIELD)]
Text = Annotated[str, Form(max_length=300)]
WRONG_LOGIN = "Email or password is wrong."
TOO_MANY_LOGINS = "Too many attempts. Wait a minute and try again."
INVALID_LINK = "This link has expired or was used already; ask for a new one."
DONE = {
    "profile": "Your name is saved.",
    "address-added": "The address is saved.",
    "address-deleted": "The address is deleted.",
    "read": "Notifications marked read.",
}
_CURSOR = re.compile(r"^[A-Za-z0-9_.-]{1,400}$")


def _login_redirect(request: Request) -> RedirectResponse:
    return login_redirect(this_page(request))


def _access_token(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if ACCESS_COOKIE in jar:
            return jar[ACCESS_COOKIE].value
    return None


async def _sign_in(visit: Visit, email: str, password: str, target: str) -> httpx.Response | Response | str:
    """The redirect that starts the session, or the message to show on the form."""
    answer = await visit.backend.send(
        "identity",
        "POST",
        "/api/identity/login",
        params={"session": "cookie"},
        json={"email": email, "password": password},
        headers={"authorization": ""},
    )
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        return "Signing in is unavailable right now; try again in a moment."
    if answer.status_code == 429:
        return TOO_MANY_LOGINS
    if answer.status_code != 200:
        return WRONG_LOGIN
    response = RedirectResponse(target, status_code=303)
    for header in answer.headers.get_list("set-cookie"):
        response.headers.append("set-cookie", header)
    await merge_anonymous_cart(visit, _access_token(answer), response)
    return response


# -- register, log in, log out -----------------------------------------------------------------


@router.get("/login")
async def login_page(visit: ThisVisit) -> Response:
    target = safe_next(visit.request.query_params.get("next"))
    visitor = await visit.visitor()
    if visitor.signed_in:
        return RedirectResponse(target, status_code=303)
    notices = ["Your new password is saved: log in with it."] if visit.request.query_params.get("reset") else []
    context = {"next": target, "email": "", "error": None, "notices": notices}
    return await page(visit, "account/login.html", context)


@router.post("/login")
async def login_submit(
    visit: ThisVisit, email: Text = "", password: Text = "", csrf_token: Csrf = "", next: Text = "/"
) -> Response:
    await visit.require_csrf(csrf_token)
    target = safe_next(next)
    result = WRONG_LOGIN
    if email.strip() and password:
        outcome = await _sign_in(visit, email.strip(), password, target)
        if isinstance(outcome, Response):
            return outcome
        result = str(outcome)
    context = {"next": target, "email": email.strip(), "error": result, "notices": []}
    status = {WRONG_LOGIN: 401, TOO_MANY_LOGINS: 429}.get(result, 503)
    return await page(visit, "account/login.html", context, status_code=status)


@router.get("/register")
async def register_page(visit: ThisVisit) -> Response:
    target = safe_next(visit.request.query_params.get("next"))
    visitor = await visit.visitor()
    if visitor.signed_in:
        return RedirectResponse(target, status_code=303)
    context = {"next": target, "values": {"name": "", "email": ""}, "errors": {}, "error": None}
    return await page(visit, "account/register.html", context)


async def _create_account(
    visit: Visit, email: str, password: str, name: str, target: str, taken: str
) -> Response | tuple[str | None, dict[str, str], int]:
    """Registers with identity and signs in (the redirect to ``target``), or (the page's message,
    messages per field, status); ``taken`` is what to say when the email has an account."""
    body = {"email": email, "password": password, "display_name": name}
    answer = await visit.backend.send(
        "identity", "POST", "/api/identity/register", json=body, headers={"authorization": ""}
    )
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        return "Registration is unavailable right now; try again in a moment.", {}, 503
    if answer.status_code == 201:
        outcome = await _sign_in(visit, email, password, target)
        return outcome if isinstance(outcome, Response) else (str(outcome), {}, 503)
    if answer.status_code == 409:
        return None, {"email": taken}, 409
    message, fields = problem_detail(answer)
    return message, {"name" if key == "display_name" else key: text for key, text in fields.items()}, answer.status_code


@router.post("/register")
async def register_submit(
    visit: ThisVisit,
    name: Text = "",
    email: Text = "",
    password: Text = "",
    csrf_token: Csrf = "",
    next: Text = "/",
) -> Response:
    await visit.require_csrf(csrf_token)
    target = safe_next(next)
    values = {"name": name.strip(), "email": email.strip()}
    errors: dict[str, str] = {}
    error = None
    if not values["name"]:
        errors["name"] = "Tell us your name."
    if not values["email"]:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Choose a password."  # noqa: S105 - a message, not a secret
    status = 422
    if not errors:
        taken = "An account with this email exists already. Log in instead?"
        outcome = await _create_account(visit, values["email"], password, values["name"], target, taken)
        if isinstance(outcome, Response):
            return outcome
        error, errors, status = outcome
    context = {"next": target, "values": values, "errors": errors, "error": error or "Check the fields marked below."}
    return await page(visit, "account/register.html", context, status_code=status)


#: a guest's browser: the order page offers to keep the account (choose a password by email)
GUEST_COOKIE = "agora_guest"


@router.post("/checkout/guest")
async def guest_checkout(visit: ThisVisit, email: Text = "", name: Text = "", csrf_token: Csrf = "") -> Response:
    """Checkout with an email alone: an account is made for it with a password nobody knows (the
    guest may choose one later through "forgot password"), the guest is signed in and their cart
    follows, as after a registration. An email that has an account must log in instead."""
    await visit.require_csrf(csrf_token)
    values = {"email": email.strip(), "name": name.strip()}
    errors: dict[str, str] = {}
    if "@" not in values["email"]:
        errors["email"] = "Enter your email address, like name@example.com: the receipt goes there."
    error = None
    status = 422
    if not errors:
        password = secrets.token_urlsafe(24)
        display_name = (values["name"] or values["email"].split("@", 1)[0])[:100]
        taken = "An account uses this email: log in to check out with it."
        outcome = await _create_account(visit, values["email"], password, display_name, "/checkout", taken)
        if isinstance(outcome, Response):
            secure = visit.secure_cookies
            outcome.set_cookie(
                GUEST_COOKIE, "1", max_age=7 * 24 * 3600, path="/", httponly=True, samesite="lax", secure=secure
            )
            return outcome
        error, errors, status = outcome
    context = {**values, "errors": errors, "error": error or "Check the fields marked below."}
    return await page(visit, "store/checkout_start.html", context, status_code=status)


@router.get("/forgot-password")
async def forgot_password_page(visit: ThisVisit) -> Response:
    context = {"sent": False, "email": "", "error": None, "field_error": ""}
    return await page(visit, "account/forgot.html", context)


@router.post("/forgot-password")
async def forgot_password(visit: ThisVisit, email: Text = "", csrf_token: Csrf = "") -> Response:
    """Asks identity to email a reset link; the page says the same whether the account exists."""
    await visit.require_csrf(csrf_token)
    email = email.strip()
    context: dict[str, Any] = {"sent": False, "email": email, "error": None, "field_error": ""}
    if "@" not in email:
        context["field_error"] = "Enter the email address of your account, like name@example.com."
        return await page(visit, "account/forgot.html", context, status_code=422)
    answer = await visit.backend.send(
        "identity", "POST", "/api/identity/password-reset", json={"email": email}, headers={"authorization": ""}
    )
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        context["error"] = "Password resets are unavailable right now; try again in a moment."
        return await page(visit, "account/forgot.html", context, status_code=503)
    if answer.status_code == 429:
        context["error"] = "Too many reset requests. Wait a few minutes and try again."
        return await page(visit, "account/forgot.html", context, status_code=429)
    if answer.status_code >= 400:
        context["field_error"] = problem_detail(answer)[1].get("email", "Enter the email address of your account.")
        return await page(visit, "account/forgot.html", context, status_code=422)
    return await page(visit, "account/forgot.html", {**context, "sent": True})


@router.get("/reset-password")
async def reset_password_page(visit: ThisVisit) -> Response:
    token = visit.request.query_params.get("token", "")[:200]
    return await page(visit, "account/reset.html", {"token": token, "errors": {}, "error": None})


@router.post("/reset-password")
async def reset_password(visit: ThisVisit, token: Text = "", password: Text = "", csrf_token: Csrf = "") -> Response:
    await visit.require_csrf(csrf_token)
    answer = await visit.backend.send(
        "identity",
        "POST",
        "/api/identity/password-reset/confirm",
        json={"token": token, "password": password},
        headers={"authorization": ""},
    )
    if isinstance(answer, httpx.Response) and answer.status_code == 204:
        response = RedirectResponse("/login?reset=1", status_code=303)
        # the reset ended every session of the account, this browser's too
        clear_session_cookies(response, secure=visit.secure_cookies)
        return response
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        context = {"token": token, "errors": {}, "error": "Password resets are unavailable right now; try again."}
        return await page(visit, "account/reset.html", context, status_code=503)
    message, fields = problem_detail(answer)
    status = answer.status_code
    if "token" in fields:  # an expired, used or mangled link: only a new one helps
        message = fields["token"] if fields["token"].startswith("This link") else INVALID_LINK
    context = {"token": token, "errors": fields, "error": message}
    return await page(visit, "account/reset.html", context, status_code=status)


@router.post("/logout")
async def logout(visit: ThisVisit, csrf_token: Csrf = "") -> Response:
    visitor = await visit.require_csrf(csrf_token)
    if visitor.signed_in:
        # identity ends the session the access token names, in every service; the cookies go
        # either way (identity being away must not keep anyone signed in on this browser)
        await visit.backend.send("identity", "POST", "/api/identity/logout")
    response = RedirectResponse("/", status_code=303)
    clear_session_cookies(response, secure=visit.secure_cookies)
    response.delete_cookie(GUEST_COOKIE, path="/")
    return response


# -- the account pages (signed in) --------------------------------------------------------------


async def _visitor_or_login(visit: Visit) -> Visitor | RedirectResponse:
    visitor = await visit.visitor()
    if not visitor.signed_in:
        return _login_redirect(visit.request)
    return visitor


def _done(request: Request) -> list[dict[str, str]]:
    done = DONE.get(request.query_params.get("done", ""))
    return [{"kind": "success", "text": done}] if done else []


async def _profile_page(
    visit: Visit,
    visitor: Visitor,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    addresses, count = await asyncio.gather(
        visit.backend.get("identity", "/api/identity/me/addresses"), cart_count(visit, visitor)
    )
    context = {
        "addresses": addresses,
        "errors": errors or {},
        "values": values or {},
        "flashes": _done(visit.request),
        "cart_count": count,
    }
    return await visit.render("account/profile.html", context, status_code=status_code)


@router.get("/account")
async def profile(visit: ThisVisit) -> Response:
    visitor = await _visitor_or_login(visit)
    if isinstance(visitor, Response):
        return visitor
    return await _profile_page(visit, visitor)


async def _change(visit: Visit, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, str]]:
    """(status, errors per field) of a change to identity on the visitor's behalf."""
    answer = await visit.backend.send("identity", method, path, json=body)
    if not isinstance(answer, httpx.Response) or answer.status_code >= 500:
        return 503, {"form": "Your account is unavailable right now; try again in a moment."}
    if answer.status_code >= 400:
        message, fields = problem_detail(answer)
        return answer.status_code, fields or {"form": message}
    return answer.status_code, {}


@router.post("/account/profile")
async def profile_submit(visit: ThisVisit, name: Text = "", csrf_token: Csrf = "") -> Response:
    visitor = await visit.require_csrf(csrf_token)
    if not visitor.signed_in:
        return _login_redirect(visit.request)
    if not name.strip():
        return await _profile_page(visit, visitor, errors={"name": "Enter a name."}, status_code=422)
    status, errors = await _change(visit, "PATCH", "/api/identity/me", {"display_name": name.strip()})
    if errors:
        errors = {"name" if key == "display_name" else key: text for key, text in errors.items()}
        return await _profile_page(visit, visitor, errors=errors, values={"name": name}, status_code=status)
    return RedirectResponse("/account?done=profile", status_code=303)


_ADDRESS = ("label", "recipient", "line1", "line2", "city", "region", "postal_code", "country")


@router.post("/account/addresses")
async def address_add(visit: ThisVisit) -> Response:
    form = await visit.request.form()
    values = {name: str(form.get(name) or "").strip()[:200] for name in _ADDRESS}
    visitor = await visit.require_csrf(str(form.get(CSRF_FIELD) or ""))
    if not visitor.signed_in:
        return _login_redirect(visit.request)
    values["country"] = values["country"].upper()
    required = ("recipient", "line1", "city", "postal_code", "country")
    missing = {name: "Fill this in." for name in required if not values[name]}
    if missing:
        return await _profile_page(visit, visitor, errors=missing, values=values, status_code=422)
    status, errors = await _change(visit, "POST", "/api/identity/me/addresses", values)
    if errors:
        return await _profile_page(visit, visitor, errors=errors, values=values, status_code=status)
    return RedirectResponse("/account?done=address-added", status_code=303)


@router.post("/account/addresses/{address_id}/delete")
async def address_delete(visit: ThisVisit, address_id: str, csrf_token: Csrf = "") -> Response:
    visitor = await visit.require_csrf(csrf_token)
    if not visitor.signed_in:
        return _login_redirect(visit.request)
    if not is_uuid(address_id):
        return await _profile_page(visit, visitor, errors={"form": "No such address."}, status_code=404)
    status, errors = await _change(visit, "DELETE", f"/api/identity/me/addresses/{address_id}", None)
    if errors:
        return await _profile_page(visit, visitor, errors=errors, status_code=status)
    return RedirectResponse("/account?done=address-deleted", status_code=303)


def _cursor(request: Request) -> dict[str, str]:
    cursor = request.query_params.get("cursor", "")
    return {"cursor": cursor} if _CURSOR.match(cursor) else {}


async def _list_page(visit: Visit, service: str, template: str, key: str) -> Response:
    """A signed-in visitor's page of a service's list (orders, notifications), 20 at a time."""
    visitor = await _visitor_or_login(visit)
    if isinstance(visitor, Response):
        return visitor
    listing, count = await asyncio.gather(
        visit.backend.get(service, f"/api/{service}", params={"limit": 20, **_cursor(visit.request)}),
        cart_count(visit, visitor),
    )
    return await visit.render(template, {key: listing, "flashes": _done(visit.request), "cart_count": count})


@router.get("/account/orders")
async def orders(visit: ThisVisit) -> Response:
    return await _list_page(visit, "orders", "account/orders.html", "orders")


@router.get("/account/orders/{order_id}")
async def order_detail(visit: ThisVisit, order_id: str) -> Response:
    visitor = await _visitor_or_login(visit)
    if isinstance(visitor, Response):
        return visitor
    order: Any = None
    if is_uuid(order_id):
        order = await visit.backend.get("orders", f"/api/orders/{order_id}")
    count = await cart_count(visit, visitor)
    if order is None:
        context = {"status": 404, "title": "Page not found", "detail": "No such order.", "cart_count": count}
        return await visit.render("error.html", context, status_code=404)
    flashes = []
    if visit.request.query_params.get("placed") and isinstance(order, dict) and order.get("status") != "failed":
        flashes.append({"kind": "success", "text": "Thank you! Your order is placed and paid."})
    guest = bool(visit.request.cookies.get(GUEST_COOKIE))
    context = {"order": order, "flashes": flashes, "cart_count": count, "guest": guest}
    return await visit.render("account/order.html", context)


@router.get("/account/notifications")
async def notifications(visit: ThisVisit) -> Response:
    return await _list_page(visit, "notifications", "account/notifications.html", "notifications")


async def _mark(visit: Visit, csrf_token: str, path: str) -> Response:
    visitor = await visit.require_csrf(csrf_token)
    if not visitor.signed_in:
        return _login_redirect(visit.request)
    answer = await visit.backend.send("notifications", "POST", path)
    if not isinstance(answer, httpx.Response) or answer.status_code >= 400:
        count = await cart_count(visit, visitor)
        flashes = [{"kind": "error", "text": "Notifications are unavailable right now; nothing was changed."}]
        context = {"notifications": UNAVAILABLE, "flashes": flashes, "cart_count": count}
        status = 404 if isinstance(answer, httpx.Response) and answer.status_code == 404 else 503
        return await visit.render("account/notifications.html", context, status_code=status)
    return RedirectResponse("/account/notifications?done=read", status_code=303)


@router.post("/account/notifications/read-all")
async def notifications_read_all(visit: ThisVisit, csrf_token: Csrf = "") -> Response:
    return await _mark(visit, csrf_token, "/api/notifications/read-all")


@router.post("/account/notifications/{notification_id}/read")
async def notification_read(visit: ThisVisit, notification_id: str, csrf_token: Csrf = "") -> Response:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", notification_id):
        notification_id = "invalid"
    return await _mark(visit, csrf_token, f"/api/notifications/{notification_id}/read")
