"""The bad-input battery: every refusal is a 4xx problem naming the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import API, PASSWORD, Identity

JSON = {"content-type": "application/json"}


def account(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email": "battery@example.com", "password": PASSWORD}
    body.update(overrides)
    return body


REGISTER_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no-at", {"json": account(email="battery.example.com")}, 422, "body.email"),
    ("no-domain-dot", {"json": account(email="battery@localhost")}, 422, "body.email"),
    ("two-ats", {"json": account(email="a@b@example.com")}, 422, "body.email"),
    ("space-in-email", {"json": account(email="bat tery@example.com")}, 422, "body.email"),
    ("email-too-long", {"json": account(email="b" * 250 + "@example.com")}, 422, "body.email"),
    ("email-not-string", {"json": account(email=["battery@example.com"])}, 422, "body.email"),
    ("missing-email", {"json": {"password": PASSWORD}}, 422, "body.email"),
    ("password-short", {"json": account(password="7chars!")}, 422, "body.password"),
    ("password-long", {"json": account(password="x" * 129)}, 422, "body.password"),
    ("password-common", {"json": account(password="Password123")}, 422, "body.password"),
    ("password-common-padded", {"json": account(password=" qwertyuiop ")}, 422, "body.password"),
    ("password-number", {"json": account(password=12345678)}, 422, "body.password"),
    ("missing-password", {"json": {"email": "battery@example.com"}}, 422, "body.password"),
    ("extra-role", {"json": account(role="admin")}, 422, "body.role"),
    ("extra-is-active", {"json": account(is_active=True)}, 422, "body.is_active"),
    ("display-name-control", {"json": account(display_name="Ada\x00")}, 422, "body.display_name"),
    ("display-name-long", {"json": account(display_name="A" * 101)}, 422, "body.display_name"),
    ("json-array", {"json": [account()]}, 422, "body"),
    ("malformed-json", {"content": b'{"email": "battery@example.com", ', "headers": JSON}, 400, "body"),
    ("form-body", {"content": b"email=a", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415,
     "content-type"),
]  # fmt: skip


@pytest.mark.parametrize(("request_kwargs", "status", "field"), [case[1:] for case in REGISTER_CASES],
                         ids=[case[0] for case in REGISTER_CASES])  # fmt: skip
async def test_register_refuses_bad_input_and_writes_nothing(
    identity: Identity, request_kwargs: dict[str, Any], status: int, field: str
) -> None:
    before = await identity.counts()
    response = await identity.client.post(f"{API}/register", **request_kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json().get("errors", [])}
    assert PASSWORD not in response.text
    assert await identity.counts() == before


ADDRESS = {"recipient": "Ada", "line1": "1 Main St", "city": "Bath", "postal_code": "BA1 1AA", "country": "GB"}

ADDRESS_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("country-lower", {**ADDRESS, "country": "gb"}, "body.country"),
    ("country-long", {**ADDRESS, "country": "GBR"}, "body.country"),
    ("recipient-blank", {**ADDRESS, "recipient": "   "}, "body.recipient"),
    ("line1-missing", {k: v for k, v in ADDRESS.items() if k != "line1"}, "body.line1"),
    ("postal-code-symbols", {**ADDRESS, "postal_code": "<script>"}, "body.postal_code"),
    ("extra-user-id", {**ADDRESS, "user_id": "someone-else"}, "body.user_id"),
    ("city-newline", {**ADDRESS, "city": "Bath\nInjected"}, "body.city"),
]


@pytest.mark.parametrize(("body", "field"), [case[1:] for case in ADDRESS_CASES], ids=[c[0] for c in ADDRESS_CASES])
async def test_addresses_refuse_bad_input_and_write_nothing(
    identity: Identity, body: dict[str, Any], field: str
) -> None:
    _, auth = await identity.new_user()
    before = await identity.counts()
    response = await identity.client.post(f"{API}/me/addresses", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}
    assert await identity.counts() == before


async def test_address_patch_with_null_names_the_field_and_changes_nothing(identity: Identity) -> None:
    _, auth = await identity.new_user()
    created = (await identity.client.post(f"{API}/me/addresses", json=ADDRESS, headers=auth)).json()
    response = await identity.client.patch(f"{API}/me/addresses/{created['id']}", json={"city": None}, headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.city"
    assert (await identity.client.get(f"{API}/me/addresses/{created['id']}", headers=auth)).json() == created


async def test_admin_patch_refuses_unknown_roles_and_fields(identity: Identity) -> None:
    _, admin = await identity.new_user(role="admin")
    target = await identity.user(await identity.register())
    for body, field in (({"role": "root"}, "body.role"), ({"email": "x@example.com"}, "body.email"),
                        ({"is_active": "false"}, "body.is_active")):  # fmt: skip
        response = await identity.client.patch(f"{API}/users/{target.id}", json=body, headers=admin)
        assert response.status_code == 422, response.text
        assert field in {error["field"] for error in response.json()["errors"]}
    after = await identity.user(target.email)
    assert (after.role, after.is_active, after.email) == ("customer", True, target.email)


async def test_login_with_malformed_input_is_4xx(identity: Identity) -> None:
    for body, field in (({"email": "a@example.com"}, "body.password"), ({"password": PASSWORD}, "body.email"),
                        ({"email": "", "password": PASSWORD}, "body.email")):  # fmt: skip
        response = await identity.client.post(f"{API}/login", json=body)
        assert response.status_code == 422
        assert field in {error["field"] for error in response.json()["errors"]}


async def test_no_password_token_or_hash_reaches_the_logs(
    identity: Identity, capfd: pytest.CaptureFixture[str]
) -> None:
    email = await identity.register()
    tokens = await identity.login(email)
    await identity.client.post(f"{API}/login", json={"email": email, "password": "wrong but long"})
    await identity.client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    await identity.client.get(f"{API}/me", headers={"Authorization": "Bearer " + tokens["access_token"]})
    await identity.client.get(f"{API}/me", headers={"Authorization": "Bearer " + tokens["access_token"] + "x"})
    stored_hash = (await identity.user(email)).password_hash
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    assert "/api/identity/login" in logs  # the capture did see the access log
    for secret in (PASSWORD, "wrong but long", tokens["access_token"], tokens["refresh_token"], stored_hash):
        assert secret not in logs
