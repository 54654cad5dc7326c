"""Whose cart a request is about: user, anonymous by header or cookie, and malformed ids."""

from __future__ import annotations

import uuid

import pytest
from starlette.requests import Request

from agora.platform.auth import Subject
from agora.platform.http.problems import BadRequest
from agora.services.cart.auth import cart_owner

CART = str(uuid.uuid4())


def request(headers: dict[str, str]) -> Request:
    raw = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/api/cart", "headers": raw, "query_string": b""})


def user(subject: str = "u-1") -> Subject:
    return Subject(id=subject, roles=frozenset({"customer"}), token_id="t")


async def test_anonymous_without_a_cart() -> None:
    owner = await cart_owner(request({}), None)
    assert owner.owner is None and owner.cart_id is None and not owner.signed_in


async def test_header_wins_over_cookie() -> None:
    other = str(uuid.uuid4())
    owner = await cart_owner(request({"X-Cart-Id": CART.upper(), "cookie": f"agora_cart={other}"}), None)
    assert owner.owner == f"anon:{CART}" and owner.source == "header" and owner.cart_id == CART


async def test_cookie() -> None:
    owner = await cart_owner(request({"cookie": f"agora_cart={CART}"}), None)
    assert owner.owner == f"anon:{CART}" and owner.source == "cookie"


async def test_a_signed_in_caller_owns_the_user_cart_and_names_the_anonymous_one_to_merge() -> None:
    owner = await cart_owner(request({"cookie": f"agora_cart={CART}"}), user("u-9"))
    assert owner.owner == "user:u-9" and owner.cart_id == "user:u-9" and owner.signed_in
    assert owner.anonymous_cart == CART


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"X-Cart-Id": "nope"}, "X-Cart-Id"),
        ({"X-Cart-Id": CART + "0"}, "X-Cart-Id"),
        ({"X-Cart-Id": ""}, "X-Cart-Id"),
        ({"cookie": "agora_cart=nope"}, "agora_cart"),
    ],
)
async def test_malformed_cart_ids_are_refused(headers: dict[str, str], field: str) -> None:
    with pytest.raises(BadRequest) as refused:
        await cart_owner(request(headers), None)
    assert refused.value.field == field
    if field == "agora_cart":
        assert "Max-Age=0" in refused.value.headers["Set-Cookie"]
