"""The chat over a real WebSocket (uvicorn on loopback, the ``websockets`` client): both
directions within a second, authorization on subscribe, validation and rate limit as error
frames, the agents' inbox, the Origin check and credentials."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agora.platform.auth.cookies import ACCESS_COOKIE

from .conftest import Chat

pytestmark = pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)


async def test_messages_from_each_side_reach_the_other_within_a_second(chat: Chat) -> None:
    customer, agent = await chat.customer(), await chat.agent()
    cid = (await chat.open(customer)).json()["id"]
    async with chat.socket(customer) as mine, chat.socket(agent) as theirs:
        assert (await mine.subscribe(cid))["conversation"]["id"] == cid
        await theirs.subscribe(cid)
        await theirs.subscribe("inbox")

        await mine.send(type="message", conversation_id=cid, body=" Hello? ", ref="c1")
        sent = await mine.expect("sent", within=1.0)
        assert sent["ref"] == "c1" and sent["message"]["body"] == "Hello?"
        arrived = await theirs.expect("message", within=1.0)
        assert arrived["message"]["body"] == "Hello?" and arrived["message"]["author_role"] == "customer"
        inbox = await theirs.expect("inbox", within=1.0)
        assert inbox["conversation"]["id"] == cid and inbox["conversation"]["agent_unread"] == 1

        await theirs.send(type="message", conversation_id=cid, body="Hi, how can I help?")
        answer = await mine.expect("message", within=1.0, author="agent")
        assert answer["message"]["author_role"] == "agent" and answer["conversation"]["customer_unread"] == 1

        # a message sent over REST is pushed too
        assert (await chat.post(agent, cid, "Still there?")).status_code == 201
        assert (await mine.expect("message", within=1.0, author="agent"))["message"]["body"] == "Still there?"

        await mine.send(type="read", conversation_id=cid)
        read = await mine.expect("read")
        assert read["side"] == "customer" and read["conversation"]["customer_unread"] == 0
        seen = await theirs.expect("read")
        assert seen["side"] == "customer" and seen["read_seq"] == 3

    history = (await chat.history(customer, cid)).json()["items"]  # a reload shows it all
    assert [m["body"] for m in history] == ["Hello?", "Hi, how can I help?", "Still there?"]


async def test_a_second_customer_is_refused_on_subscribe_and_write(chat: Chat) -> None:
    owner, stranger = await chat.customer(), await chat.customer()
    cid = (await chat.open(owner)).json()["id"]
    async with chat.socket(stranger) as socket:
        await socket.send(type="subscribe", conversation_id=cid)
        refused = await socket.receive()
        assert refused["type"] == "error" and refused["field"] == "conversation_id" and refused["status"] == 404
        await socket.send(type="subscribe", conversation_id="inbox")
        assert (await socket.receive())["status"] == 403  # only agents see the inbox
        await socket.send(type="message", conversation_id=cid, body="let me in")
        assert (await socket.receive())["status"] == 404
        await socket.send(type="ping", ref=7)
        assert await socket.receive() == {"type": "pong", "ref": 7}  # still open
    assert (await chat.history(owner, cid)).json()["items"] == []


async def test_bad_frames_get_error_frames_and_nothing_is_stored(chat: Chat) -> None:
    customer = await chat.customer()
    cid = (await chat.open(customer)).json()["id"]
    async with chat.socket(customer) as socket:
        cases = [
            ({"type": "message", "conversation_id": cid, "body": ""}, "body"),
            ({"type": "message", "conversation_id": cid, "body": "   "}, "body"),
            ({"type": "message", "conversation_id": cid, "body": "x" * 2001}, "body"),
            ({"type": "message", "conversation_id": cid, "body": 12}, "body"),
            ({"type": "message", "conversation_id": 12, "body": "hi"}, "conversation_id"),
            ({"type": "message", "conversation_id": "x" * 40, "body": "hi"}, "conversation_id"),
            ({"type": "shout"}, "type"),
        ]
        for frame, field in cases:
            await socket.send(**frame)
            error = await socket.receive()
            assert error["type"] == "error" and error["field"] == field, (frame, error)
        await socket.connection.send("not json")
        assert (await socket.receive())["type"] == "error"
        await socket.connection.send(b"\x00binary")
        assert (await socket.receive())["type"] == "error"
    assert (await chat.history(customer, cid)).json()["items"] == []


async def test_the_rate_limit_applies_to_the_socket(chat: Chat) -> None:
    customer = await chat.customer()
    cid = (await chat.open(customer)).json()["id"]
    async with chat.socket(customer) as socket:
        for index in range(5):
            await socket.send(type="message", conversation_id=cid, body=f"m{index}")
            assert (await socket.expect("sent"))["message"]["seq"] == index + 1
        await socket.send(type="message", conversation_id=cid, body="too many")
        limited = await socket.receive()
        assert limited["type"] == "error" and limited["status"] == 429 and limited["retry_after"] >= 1
    assert len((await chat.history(customer, cid)).json()["items"]) == 5


async def test_credentials_by_cookie_or_query_and_refusals(chat: Chat) -> None:
    customer = await chat.customer()
    cid = (await chat.open(customer)).json()["id"]
    async with chat.socket(headers={"Cookie": f"{ACCESS_COOKIE}={customer.token}"}) as by_cookie:
        await by_cookie.subscribe(cid)
    async with chat.socket(query=f"?access_token={customer.token}") as by_query:
        await by_query.subscribe(cid)
    for headers, query in (({}, ""), ({"Authorization": "Bearer not-a-token"}, ""), ({}, "?access_token=forged")):
        async with chat.socket(headers=headers, query=query) as anonymous:
            with pytest.raises(ConnectionClosed) as closed:
                await anonymous.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_page_from_another_origin_cannot_open_the_socket(chat: Chat) -> None:
    customer = await chat.customer()
    cookie = {"Cookie": f"{ACCESS_COOKIE}={customer.token}"}
    for origin in ("http://evil.example", f"http://{chat.address}.evil.example", "null"):
        with pytest.raises(InvalidStatus) as refused:
            async with chat.socket(headers={**cookie, "Origin": origin}):
                pass
        assert refused.value.response.status_code == 403
    async with chat.socket(headers={**cookie, "Origin": f"http://{chat.address}"}) as same_origin:
        await same_origin.send(type="ping")
        assert (await same_origin.receive())["type"] == "pong"


async def test_two_messages_at_once_are_numbered_one_after_the_other(chat: Chat) -> None:
    customer, agent = await chat.customer(), await chat.agent()
    cid = (await chat.open(customer)).json()["id"]
    results = await asyncio.gather(chat.post(customer, cid, "a"), chat.post(agent, cid, "b"))
    assert sorted(r.json()["seq"] for r in results) == [1, 2]


async def test_a_logout_closes_the_open_socket(chat: Chat) -> None:
    """The socket was authenticated when it opened; the session ending later closes it too."""
    customer = await chat.customer()
    async with chat.socket(customer) as socket:
        await socket.send(type="ping", ref=1)
        assert await socket.receive() == {"type": "pong", "ref": 1}
        out = await chat.client.post("/api/identity/logout", headers=customer.headers)
        assert out.status_code == 204, out.text
        with pytest.raises(ConnectionClosed) as closed:
            for ref in range(2, 100):  # the close comes at the next frame once support heard of it
                await socket.send(type="ping", ref=ref)
                assert (await socket.receive(within=2.0))["type"] == "pong"
                await asyncio.sleep(0.05)  # support hears identity's event through the broker
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
