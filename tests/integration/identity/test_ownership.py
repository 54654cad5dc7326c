"""Addresses belong to their owner; admin routes belong to admins; nobody edits their own role."""

from __future__ import annotations

from typing import Any

from agora.contracts.identity import USER_UPDATED

from .conftest import API, Identity


def address(**overrides: Any) -> dict[str, Any]:
    body = {
        "label": "home",
        "recipient": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    }
    body.update(overrides)
    return body


async def test_address_crud_for_the_owner(identity: Identity) -> None:
    _, auth = await identity.new_user()
    created = await identity.client.post(f"{API}/me/addresses", json=address(), headers=auth)
    assert created.status_code == 201, created.text
    address_id = created.json()["id"]
    assert created.headers["location"] == f"{API}/me/addresses/{address_id}"

    listed = await identity.client.get(f"{API}/me/addresses", headers=auth)
    assert [item["id"] for item in listed.json()["items"]] == [address_id]
    changed = await identity.client.patch(f"{API}/me/addresses/{address_id}", json={"city": "Bath"}, headers=auth)
    assert changed.status_code == 200 and changed.json()["city"] == "Bath"
    assert (await identity.client.delete(f"{API}/me/addresses/{address_id}", headers=auth)).status_code == 204
    assert (await identity.client.get(f"{API}/me/addresses/{address_id}", headers=auth)).status_code == 404


async def test_user_a_cannot_read_change_or_delete_user_bs_address(identity: Identity) -> None:
    _, alice = await identity.new_user()
    _, bob = await identity.new_user()
    bobs = (await identity.client.post(f"{API}/me/addresses", json=address(), headers=bob)).json()
    path = f"{API}/me/addresses/{bobs['id']}"

    assert (await identity.client.get(path, headers=alice)).status_code == 404
    assert (await identity.client.patch(path, json={"city": "Paris"}, headers=alice)).status_code == 404
    assert (await identity.client.delete(path, headers=alice)).status_code == 404
    assert (await identity.client.get(f"{API}/me/addresses", headers=alice)).json()["items"] == []

    still = await identity.client.get(path, headers=bob)
    assert still.status_code == 200 and still.json() == bobs


async def test_patch_me_with_role_or_is_active_changes_nothing(identity: Identity) -> None:
    email, auth = await identity.new_user()
    before = await identity.user(email)
    for body in ({"role": "admin"}, {"is_active": False}, {"display_name": "Mallory", "role": "admin"}):
        response = await identity.client.patch(f"{API}/me", json=body, headers=auth)
        assert response.status_code == 422
        fields = {error["field"] for error in response.json()["errors"]}
        assert fields & {"body.role", "body.is_active"}
    after = await identity.user(email)
    assert (after.role, after.is_active, after.display_name) == (before.role, before.is_active, before.display_name)

    renamed = await identity.client.patch(f"{API}/me", json={"display_name": "Ada"}, headers=auth)
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Ada"
    assert renamed.json()["role"] == "customer"


async def test_customer_and_support_get_403_on_every_admin_route(identity: Identity) -> None:
    _, customer = await identity.new_user()
    _, support = await identity.new_user(role="support")
    victim = await identity.user(await identity.register())
    for auth in (customer, support):
        assert (await identity.client.get(f"{API}/users", headers=auth)).status_code == 403
        response = await identity.client.patch(f"{API}/users/{victim.id}", json={"role": "admin"}, headers=auth)
        assert response.status_code == 403
    assert (await identity.client.get(f"{API}/users")).status_code == 401
    assert (await identity.user(victim.email)).role == "customer"


async def test_admin_searches_pages_and_disables_users(identity: Identity) -> None:
    _, admin = await identity.new_user(role="admin")
    emails = [await identity.register(f"pager-{n}@example.com") for n in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"email": "PAGER-", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await identity.client.get(f"{API}/users", params=params, headers=admin)).json()
        seen += [user["email"] for user in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(emails)

    tampered = await identity.client.get(f"{API}/users", params={"cursor": "abc.def"}, headers=admin)
    assert tampered.status_code == 422 and tampered.json()["errors"][0]["field"] == "query.cursor"

    target = await identity.user(emails[0])
    tokens = await identity.login(emails[0])
    changed = await identity.client.patch(
        f"{API}/users/{target.id}", json={"is_active": False, "role": "support"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["is_active"] is False and changed.json()["role"] == "support"
    # disabling ended their sessions
    refreshed = await identity.client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    assert (
        await identity.client.post(f"{API}/login", json={"email": emails[0], "password": "x" * 8})
    ).status_code == 401
    assert (await identity.events(USER_UPDATED))[-1]["data"]["user_id"] == target.id

    missing = await identity.client.patch(f"{API}/users/no-such-user", json={"is_active": True}, headers=admin)
    assert missing.status_code == 404


async def test_an_admin_cannot_lock_themselves_out(identity: Identity) -> None:
    email, admin = await identity.new_user(role="admin")
    me = await identity.user(email)
    response = await identity.client.patch(f"{API}/users/{me.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 409
    assert (await identity.user(email)).is_active is True
