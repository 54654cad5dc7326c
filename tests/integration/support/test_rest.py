"""The chat over REST on every database: opening, history, authorization, validation, unread
counts and read markers, closing, the rate limit, and the outbox event."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from agora.contracts.support import MESSAGE_POSTED
from agora.platform.messaging import outbox
from agora.services.support.models import Conversation, Message

from .conftest import API, Chat


async def _counts(chat: Chat) -> dict[str, int]:
    async with chat.context.sessions() as session:
        return {
            "conversations": int(await session.scalar(select(func.count()).select_from(Conversation)) or 0),
            "messages": int(await session.scalar(select(func.count()).select_from(Message)) or 0),
            "events": int(await session.scalar(select(func.count()).select_from(outbox)) or 0),
        }


async def test_a_customer_and_an_agent_talk_and_the_history_survives(chat: Chat) -> None:
    customer, agent = await chat.customer(), await chat.agent()
    opened = await chat.open(customer, subject="Where is my order?")
    assert opened.status_code == 201, opened.text
    conversation = opened.json()
    assert conversation["customer_id"] == customer.id and conversation["status"] == "open"
    assert opened.headers["location"] == f"{API}/conversations/{conversation['id']}"
    again = await chat.open(customer)  # one open conversation per customer, reused
    assert again.status_code == 200 and again.json()["id"] == conversation["id"]

    first = await chat.post(customer, conversation["id"], "  Hello, my parcel is late.\n")
    assert first.status_code == 201, first.text
    assert first.json()["body"] == "Hello, my parcel is late." and first.json()["author_role"] == "customer"
    reply = await chat.post(agent, conversation["id"], "Let me check.")
    assert reply.status_code == 201 and reply.json()["author_role"] == "agent"

    history = await chat.history(customer, conversation["id"])  # what a reload shows
    assert history.status_code == 200
    items = history.json()["items"]
    assert [(m["seq"], m["author_role"], m["body"]) for m in items] == [
        (1, "customer", "Hello, my parcel is late."),
        (2, "agent", "Let me check."),
    ]
    assert history.json() == (await chat.history(agent, conversation["id"])).json()

    page = await chat.history(customer, conversation["id"], limit=1)
    assert [m["seq"] for m in page.json()["items"]] == [1]
    rest = await chat.history(customer, conversation["id"], limit=1, cursor=page.json()["next_cursor"])
    assert [m["seq"] for m in rest.json()["items"]] == [2] and rest.json()["next_cursor"] is None

    async with chat.context.sessions() as session:
        statement = select(outbox.c.type, outbox.c.payload).where(outbox.c.key == conversation["id"])
        rows = (await session.execute(statement.order_by(outbox.c.id))).all()
    events = [(row.type, orjson.loads(row.payload)) for row in rows]
    assert [event_type for event_type, _ in events] == [MESSAGE_POSTED, MESSAGE_POSTED]
    data = events[1][1]["data"]
    assert data["author_role"] == "agent" and data["excerpt"] == "Let me check." and data["seq"] == 2
    assert data["customer_id"] == customer.id


async def test_another_customer_cannot_see_or_write_in_a_conversation(chat: Chat) -> None:
    owner, stranger = await chat.customer(), await chat.customer()
    conversation = (await chat.open(owner)).json()
    await chat.post(owner, conversation["id"], "private")
    before = await _counts(chat)
    path = f"{API}/conversations/{conversation['id']}"
    for response in (
        await chat.client.get(path, headers=stranger.headers),
        await chat.history(stranger, conversation["id"]),
        await chat.post(stranger, conversation["id"], "let me in"),
        await chat.client.post(f"{path}/read", headers=stranger.headers),
        await chat.client.post(f"{path}/close", headers=stranger.headers),
        await chat.client.get(f"{API}/conversations/no-such-id", headers=owner.headers),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    listed = await chat.client.get(f"{API}/conversations", headers=stranger.headers)
    assert conversation["id"] not in [item["id"] for item in listed.json()["items"]]
    assert (await chat.client.get(f"{API}/conversations")).status_code == 401
    assert await _counts(chat) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body.body"),
        ({"body": "   \n "}, "body.body"),
        ({"body": "x" * 2001}, "body.body"),
        ({"body": 42}, "body.body"),
        ({"body": ["a"]}, "body.body"),
        ({"body": "bell\x07"}, "body.body"),
        ({}, "body.body"),
        ({"body": "hi", "extra": 1}, "body.extra"),
    ],
)
async def test_bad_messages_are_refused_and_nothing_is_stored(chat: Chat, body: dict[str, Any], field: str) -> None:
    customer = await chat.customer()
    conversation = (await chat.open(customer)).json()
    before = await _counts(chat)
    response = await chat.client.post(
        f"{API}/conversations/{conversation['id']}/messages", json=body, headers=customer.headers
    )
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await _counts(chat) == before


async def test_bad_ids_and_cursors(chat: Chat) -> None:
    customer = await chat.customer()
    conversation = (await chat.open(customer)).json()
    too_long = await chat.post(customer, "x" * 37, "hi")
    assert too_long.status_code == 422 and "path.conversation_id" in [e["field"] for e in too_long.json()["errors"]]
    tampered = await chat.history(customer, conversation["id"], cursor="abc.def")
    assert tampered.status_code == 422 and tampered.json()["errors"][0]["field"] == "query.cursor"
    bad_status = await chat.client.get(f"{API}/conversations", params={"status": "lost"}, headers=customer.headers)
    assert bad_status.status_code == 422
    not_json = await chat.client.post(
        f"{API}/conversations/{conversation['id']}/messages", content=b"body=hi", headers=customer.headers
    )
    assert not_json.status_code in (400, 415, 422)


async def test_unread_counts_and_read_markers_for_both_sides(chat: Chat) -> None:
    customer, agent = await chat.customer(), await chat.agent()
    conversation = (await chat.open(customer)).json()
    cid = conversation["id"]
    for text in ("one", "two"):
        assert (await chat.post(customer, cid, text)).status_code == 201

    async def agent_view() -> dict[str, Any]:
        listed = await chat.client.get(f"{API}/conversations", params={"status": "open"}, headers=agent.headers)
        return next(item for item in listed.json()["items"] if item["id"] == cid)

    view = await agent_view()
    assert (view["unread"], view["agent_unread"], view["customer_unread"]) == (2, 2, 0)
    assert (await chat.client.get(f"{API}/conversations/{cid}", headers=customer.headers)).json()["unread"] == 0

    read = await chat.client.post(f"{API}/conversations/{cid}/read", headers=agent.headers)
    assert read.status_code == 200 and read.json()["unread"] == 0
    assert (await agent_view())["agent_unread"] == 0

    await chat.post(agent, cid, "answer")
    mine = await chat.client.get(f"{API}/conversations/{cid}", headers=customer.headers)
    assert mine.json()["unread"] == 1 and mine.json()["customer_unread"] == 1
    await chat.post(customer, cid, "thanks")  # writing marks what came before read
    view = await agent_view()
    assert (view["agent_unread"], view["customer_unread"]) == (1, 0)

    # the inbox lists the newest activity first
    other = await chat.customer()
    newer = (await chat.open(other)).json()
    await chat.post(other, newer["id"], "me too")
    listed = await chat.client.get(f"{API}/conversations", headers=agent.headers)
    ids = [item["id"] for item in listed.json()["items"]]
    assert ids.index(newer["id"]) < ids.index(cid)


async def test_closing_ends_posting_and_the_next_open_starts_anew(chat: Chat) -> None:
    customer, agent = await chat.customer(), await chat.agent()
    conversation = (await chat.open(customer)).json()
    closed = await chat.client.post(f"{API}/conversations/{conversation['id']}/close", headers=agent.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    refused = await chat.post(customer, conversation["id"], "hello?")
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "conversation_id"
    fresh = await chat.open(customer)
    assert fresh.status_code == 201 and fresh.json()["id"] != conversation["id"]
    closed_only = await chat.client.get(f"{API}/conversations", params={"status": "closed"}, headers=customer.headers)
    assert [item["id"] for item in closed_only.json()["items"]] == [conversation["id"]]
    assert (await chat.open(agent)).status_code == 403  # agents answer, they do not open


async def test_the_message_rate_is_limited_per_user(chat: Chat) -> None:
    customer, other = await chat.customer(), await chat.customer()
    conversation = (await chat.open(customer)).json()
    for index in range(5):  # the module's limit: 5 per minute
        assert (await chat.post(customer, conversation["id"], f"m{index}")).status_code == 201
    before = await _counts(chat)
    limited = await chat.post(customer, conversation["id"], "one too many")
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["content-type"] == "application/problem+json"
    assert await _counts(chat) == before
    theirs = (await chat.open(other)).json()
    assert (await chat.post(other, theirs["id"], "not limited")).status_code == 201
