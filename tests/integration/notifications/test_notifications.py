"""Events become notifications and emails, once each; the owner's list, read marks, bad input."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, select

from agora.contracts import orders
from agora.platform.testing.waiting import eventually
from agora.services.notifications.models import SENT, Email, Notification
from agora.services.notifications.runtime import notifications_runtime

from .conftest import API, Notifications, User
from .support import new_order_id, open_stream, order_event, payment_captured, shipment_created, text_of


def _count(kind: str) -> float:
    return REGISTRY.get_sample_value("agora_notifications_total", {"kind": kind}) or 0.0


async def _emails_to(notif: Notifications, user: User, count: int) -> list[str]:
    async def arrived() -> list[str] | None:
        messages = notif.smtp.messages(user.email)
        return [f"{m['Subject']}\n{text_of(m)}" for m in messages] if len(messages) >= count else None

    return await eventually(arrived, within=20.0, what=f"{count} email(s) to {user.email}")


async def test_order_events_become_notifications_and_emails(notif: Notifications) -> None:
    user = await notif.user()
    order_id = new_order_id()
    await notif.deliver(order_event(orders.ORDER_PLACED, order_id, user.id))
    await notif.deliver(order_event(orders.ORDER_PAID, order_id, user.id))

    page = await notif.list(user)
    assert [item["kind"] for item in page["items"]] == ["order_paid", "order_placed"]  # newest first
    assert page["unread_count"] == 2 and page["next_cursor"] is None
    placed = page["items"][1]
    assert orders.order_number(order_id) in placed["title"]
    assert "2 x Walnut desk" in placed["body"] and "€35.00" in placed["body"]

    emails = await _emails_to(notif, user, 2)
    assert all(orders.order_number(order_id) in email for email in emails)
    assert any("received" in email for email in emails) and any("paid" in email for email in emails)


async def test_every_event_delivered_twice_makes_one_notification_one_email_one_count(
    notif: Notifications,
) -> None:
    user = await notif.user()
    order_id = new_order_id()
    before = _count("order_cancelled")
    cancelled = order_event(orders.ORDER_CANCELLED, order_id, user.id)
    await notif.deliver(cancelled)
    await notif.deliver(cancelled)  # the broker redelivers
    # another event with its own id telling the same fact: still one
    await notif.deliver(order_event(orders.ORDER_CANCELLED, order_id, user.id))

    page = await notif.list(user)
    assert [item["kind"] for item in page["items"]] == ["order_cancelled"]
    assert _count("order_cancelled") == before + 1
    await _emails_to(notif, user, 1)

    async def sent() -> bool:
        async with notif.context.sessions() as session:
            emails = (await session.scalars(select(Email).where(Email.order_id == order_id))).all()
            return len(emails) == 1 and emails[0].status == SENT

    await eventually(sent, within=20.0, what="the email recorded as sent")
    assert await notifications_runtime(notif.context).mailer.sweep() == 0  # nothing left to send: no resend
    assert len(notif.smtp.messages(user.email)) == 1


async def test_the_same_fact_from_two_services_is_one_notification(notif: Notifications) -> None:
    user = await notif.user()
    order_id = new_order_id()
    await notif.deliver(payment_captured(order_id, user.id))  # payments tells it first: no email
    await notif.deliver(order_event(orders.ORDER_PAID, order_id, user.id))  # orders' event owns the email

    page = await notif.list(user)
    assert [item["kind"] for item in page["items"]] == ["order_paid"]
    emails = await _emails_to(notif, user, 1)
    assert order_id in emails[0]


async def test_shipping_events_reach_the_owner_found_from_earlier_notifications(notif: Notifications) -> None:
    user = await notif.user()
    unknown_order = new_order_id()
    before = await notif.counts()
    await notif.deliver(shipment_created(unknown_order))  # nobody known: left to orders.order.shipped
    after = await notif.counts()
    assert after["notifications"] == before["notifications"]

    order_id = new_order_id()
    await notif.deliver(order_event(orders.ORDER_PLACED, order_id, user.id))
    await notif.deliver(shipment_created(order_id))
    await notif.deliver(order_event(orders.ORDER_SHIPPED, order_id, user.id))
    page = await notif.list(user)
    kinds = [item["kind"] for item in page["items"]]
    assert kinds == ["order_shipped", "order_placed"]
    assert "TRK-987" in page["items"][0]["body"] and "DHL" in page["items"][0]["body"]
    emails = await _emails_to(notif, user, 2)  # placed and shipped, from the orders events
    assert sum("shipped" in email for email in emails) == 1


async def test_read_one_and_read_all(notif: Notifications) -> None:
    user = await notif.user()
    for event_type in (orders.ORDER_PLACED, orders.ORDER_PAID):
        await notif.deliver(order_event(event_type, new_order_id(), user.id))
    await notif.deliver(order_event(orders.ORDER_FAILED, new_order_id(), user.id))
    page = await notif.list(user)
    assert page["unread_count"] == 3
    first = page["items"][0]

    read = await notif.client.post(f"{API}/{first['id']}/read", headers=user.headers)
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    again = await notif.client.post(f"{API}/{first['id']}/read", headers=user.headers)
    assert again.status_code == 200 and again.json()["read_at"] == read.json()["read_at"]
    page = await notif.list(user)
    assert page["unread_count"] == 2  # the cached first page was dropped
    assert page["items"][0]["read_at"] == read.json()["read_at"]

    everything = await notif.client.post(f"{API}/read-all", headers=user.headers)
    assert everything.status_code == 200 and everything.json() == {"updated": 2, "unread_count": 0}
    page = await notif.list(user)
    assert page["unread_count"] == 0 and all(item["read_at"] for item in page["items"])


async def test_another_users_notification_is_404_and_stays_unread(notif: Notifications) -> None:
    owner, other = await notif.user(), await notif.user()
    await notif.deliver(order_event(orders.ORDER_DELIVERED, new_order_id(), owner.id))
    notification = (await notif.list(owner))["items"][0]
    before = await notif.counts()
    response = await notif.client.post(f"{API}/{notification['id']}/read", headers=other.headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "notification_id"
    assert (await notif.list(other))["items"] == []
    read_all = await notif.client.post(f"{API}/read-all", headers=other.headers)
    assert read_all.json()["updated"] == 0
    assert await notif.counts() == before
    assert (await notif.list(owner))["unread_count"] == 1


async def test_pagination_newest_first_through_cache_and_database(notif: Notifications) -> None:
    user, other = await notif.user(), await notif.user()
    for _ in range(13):
        await notif.deliver(order_event(orders.ORDER_DELIVERED, new_order_id(), user.id))
    everything = await notif.list(user, limit=100)  # beyond the cached page: from the database
    assert len(everything["items"]) == 13 and everything["next_cursor"] is None
    ordered = [(item["created_at"], item["id"]) for item in everything["items"]]
    assert ordered == sorted(ordered, reverse=True)

    seen: list[str] = []
    page = await notif.list(user, limit=5)  # the first page: from the cache
    while True:
        seen.extend(item["id"] for item in page["items"])
        assert page["unread_count"] == 13
        if page["next_cursor"] is None:
            break
        page = await notif.list(user, limit=5, cursor=page["next_cursor"])
    assert seen == [item["id"] for item in everything["items"]]

    # a cursor is the user's own: another user's list refuses it
    first = await notif.list(user, limit=5)
    response = await notif.client.get(API, params={"cursor": first["next_cursor"]}, headers=other.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_the_first_page_is_read_from_the_cache(notif: Notifications) -> None:
    user = await notif.user()
    await notif.deliver(order_event(orders.ORDER_DELIVERED, new_order_id(), user.id))
    cached = await notif.list(user, limit=10)  # the cached page size of these tests
    assert len(cached["items"]) == 1
    async with notif.context.sessions() as session:  # behind the service's back
        await session.execute(delete(Notification).where(Notification.user_id == user.id))
        await session.commit()
    assert (await notif.list(user, limit=10)) == cached  # served from the cache
    assert (await notif.list(user, limit=50))["items"] == []  # the database is the truth
    await notif.deliver(order_event(orders.ORDER_DELIVERED, new_order_id(), user.id))
    fresh = await notif.list(user, limit=10)  # the new notification dropped the cached page
    assert len(fresh["items"]) == 1 and fresh["items"][0]["id"] != cached["items"][0]["id"]


async def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(notif: Notifications) -> None:
    user = await notif.user()
    await notif.deliver(order_event(orders.ORDER_DELIVERED, new_order_id(), user.id))
    before = await notif.counts()
    cases = [
        ("GET", API, {"limit": "0"}, user.headers, 422, "limit"),
        ("GET", API, {"limit": "101"}, user.headers, 422, "limit"),
        ("GET", API, {"limit": "ten"}, user.headers, 422, "limit"),
        ("GET", API, {"cursor": "not-a-cursor"}, user.headers, 422, "query.cursor"),
        ("GET", API, {"cursor": "x" * 600}, user.headers, 422, "cursor"),
        ("POST", f"{API}/{'x' * 37}/read", None, user.headers, 422, "notification_id"),
        ("POST", f"{API}/{uuid.uuid4()}/read", None, user.headers, 404, "notification_id"),
        ("GET", API, None, {}, 401, None),
        ("POST", f"{API}/read-all", None, {}, 401, None),
        ("GET", API, None, {"Authorization": "Bearer not-a-token"}, 401, None),
        ("GET", f"{API}/stream", None, {}, 401, None),
    ]
    for method, url, params, headers, status, field in cases:
        response = await notif.client.request(method, url, params=params, headers=headers)
        assert response.status_code == status, (url, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert field in str(response.json().get("errors")), response.text
    assert await notif.counts() == before
    assert (await notif.list(user))["unread_count"] == 1


@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)  # the stream, not the store
async def test_a_logout_ends_the_open_stream(notif: Notifications) -> None:
    """The stream was authenticated when it opened; once the session ends (notifications heard
    identity's event: the list answers 401), the next push closes it instead of going out."""
    user = await notif.user()
    async with open_stream(notif.embedded, user.headers) as stream:
        out = await notif.client.post("/api/identity/logout", headers=user.headers)
        assert out.status_code == 204, out.text

        async def refused() -> bool:
            return (await notif.client.get(API, headers=user.headers)).status_code == 401

        await eventually(refused, within=5.0, what="notifications refusing the logged-out token")
        await notif.deliver(order_event(orders.ORDER_PLACED, new_order_id(), user.id))
        with pytest.raises(StopAsyncIteration):  # the stream ended without pushing it
            await stream.next_event(within=5.0)
