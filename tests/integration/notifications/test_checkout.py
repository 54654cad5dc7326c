"""A real checkout through the whole stack plus notifications: the buyer gets the email (a real
SMTP server) and the live notification on their open stream; another user's stream gets nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agora.platform.auth.cookies import ACCESS_COOKIE
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.platform.testing.waiting import eventually
from agora.services import notifications
from tests.support.stack import PASSWORD, POSTGRES_POOL, SERVICES, Stack, specs

from .support import Catcher, open_stream, text_of

ALL = (*SERVICES, "notifications")


@pytest.fixture(scope="module")
async def stack(
    database_backend: str, smtp: tuple[Catcher, int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    _, port = smtp
    tmp = tmp_path_factory.mktemp("checkout-notifications")
    platform = platform_for_tests(tmp, jwks_file=None)
    pool: dict[str, Any] = {"database_pool_size": POSTGRES_POOL} if database_backend == "postgresql" else {}
    all_specs = [*specs(), notifications.spec]
    async with service_databases(database_backend, ALL, tmp) as urls:
        settings = {spec.name: spec.settings_cls(database_url=urls[spec.name], **pool) for spec in specs()}
        settings["notifications"] = notifications.NotificationsSettings(
            database_url=urls["notifications"], smtp_host="127.0.0.1", smtp_port=port, **pool
        )
        async with running_services(all_specs, platform, settings, seed=True) as (client, embedded):
            running = Stack(client, embedded)
            await running.wait_for_stock(product["sku"] for product in await running.products(1))
            yield running


async def test_checkout_emails_the_buyer_and_pushes_to_their_stream_only(
    stack: Stack, smtp: tuple[Catcher, int]
) -> None:
    catcher, _ = smtp
    buyer, other = await stack.register(), await stack.register()
    # the other user's browser session holds the access cookie, not a bearer token
    login = await stack.client.post(
        "/api/identity/login", params={"session": "cookie"}, json={"email": other.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    other_cookie = {"Cookie": f"{ACCESS_COOKIE}={login.cookies[ACCESS_COOKIE]}"}

    (product,) = await stack.products(1)
    async with open_stream(stack.embedded, buyer.headers) as buyer_stream:
        async with open_stream(stack.embedded, other_cookie) as other_stream:
            added = await stack.add_to_cart(buyer, product["id"])
            assert added.status_code in (200, 201), added.text
            checkout = await stack.checkout(buyer)
            assert checkout.status_code == 201, checkout.text
            order_id = checkout.json()["id"]

            kinds: set[str] = set()
            while not {"order_placed", "order_paid"} <= kinds:
                event = await buyer_stream.next_event(within=30.0)
                assert event is not None, f"no live notification for the buyer (got {kinds})"
                name, data = event
                assert name == "notification" and data["order_id"] == order_id
                kinds.add(data["kind"])
            # everything for the buyer has been pushed: the other stream had the same chance
            assert await other_stream.next_event(within=1.0) is None

    def buyer_mail() -> list[str]:
        return [f"{m['Subject']}\n{text_of(m)}" for m in catcher.messages(buyer.email)]

    async def emailed() -> list[str] | None:
        mails = buyer_mail()
        return mails if len(mails) >= 2 else None

    mails = await eventually(emailed, within=30.0, what="the order emails")
    assert all(order_id in mail for mail in mails)
    assert any("received" in mail for mail in mails) and any("paid" in mail for mail in mails)
    assert catcher.messages(other.email) == []

    listed = await stack.client.get("/api/notifications", headers=buyer.headers)
    assert {item["kind"] for item in listed.json()["items"]} == {"order_placed", "order_paid"}
    assert listed.json()["unread_count"] == 2
