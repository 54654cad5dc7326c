"""The support chat's pages, in-process: who gets which page, the no-JavaScript forms (CSRF, limits,
rate limit), output escaping, and the pages degrading when support is down.

Identity, support and the web run in one embedded app (what ``agora up`` runs, minus the shop).
People sign in with identity's browser session (cookies), as the login form does; the live side
(WebSocket) is the browser test's (``tests/e2e/browser/test_support_chat.py``).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from agora.services import identity, support, web
from agora.services.identity.operations import create_admin
from tests.integration.web.conftest import PASSWORD, Shop, csrf_of

pytestmark = pytest.mark.backend("sqlite")

API = "/api/support"
RATE = 4  # messages per minute per user in this module's support service


@dataclass
class Person:
    client: httpx.AsyncClient
    email: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Desk(Shop):
    """The shop fixture's helpers over identity + support + web."""

    async def account(self, *, name: str = "Ada Shopper", role: str | None = None) -> Person:
        """A new account (with ``role`` if given), signed in with a browser session."""
        email = f"chat-{uuid.uuid4().hex[:10]}@example.org"
        body = {"email": email, "password": PASSWORD, "display_name": name}
        created = await self.client.post("/api/identity/register", json=body)
        assert created.status_code == 201, created.text
        if role is not None:
            changed = await self.client.patch(
                f"/api/identity/users/{created.json()['id']}", json={"role": role}, headers=await self.admin_headers()
            )
            assert changed.status_code == 200, changed.text
        return await self.sign_in(email)

    async def sign_in(self, email: str) -> Person:
        visitor = self.person()
        login = await visitor.post("/api/identity/login?session=cookie", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        tokens = await self.client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
        return Person(visitor, email, tokens.json()["access_token"])

    async def conversations(self, person: Person) -> list[dict[str, Any]]:
        listed = await self.client.get(f"{API}/conversations", headers=person.bearer)
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    async def messages(self, person: Person, conversation_id: str) -> list[dict[str, Any]]:
        listed = await self.client.get(f"{API}/conversations/{conversation_id}/messages", headers=person.bearer)
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items


@pytest.fixture(scope="module")
async def desk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Desk]:
    tmp = tmp_path_factory.mktemp("chat-pages")
    platform = platform_for_tests(tmp, jwks_file=None)
    async with service_databases("sqlite", ["identity", "support", "web"], tmp) as urls:
        settings = {
            "identity": identity.IdentitySettings(database_url=urls["identity"]),
            "support": support.SupportSettings(
                database_url=urls["support"], message_rate=RATE, message_rate_window_seconds=60
            ),
            "web": web.WebSettings(database_url=urls["web"]),
        }
        specs = [identity.spec, support.spec, web.spec]
        async with running_services(specs, platform, settings) as (client, embedded):
            email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
            await create_admin(embedded.contexts["identity"], email=email, password=PASSWORD)
            desk = Desk(client, embedded, email)
            try:
                yield desk
            finally:
                for person in desk.people:
                    await person.aclose()


async def write(person: Person, body: str, *, csrf: str | None = None) -> httpx.Response:
    """The /support page's form, as a browser without JavaScript posts it."""
    token = csrf if csrf is not None else await csrf_of(person.client, "/support")
    return await person.client.post("/support/messages", data={"body": body, "csrf_token": token})


# -- who gets which page ------------------------------------------------------------------------


async def test_anonymous_visitors_are_asked_to_log_in(desk: Desk) -> None:
    visitor = desk.person()
    for path in ("/support", "/admin/support"):
        page = await visitor.get(path)
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next={path}"
    elsewhere = await visitor.get("/no-such-page")  # any page carries the launcher
    assert 'href="/login?next=/support"' in elsewhere.text
    assert "Log in to chat with us" in elsewhere.text
    assert "js/chat.js" not in elsewhere.text


async def test_customers_get_the_launcher_and_staff_do_not(desk: Desk) -> None:
    customer = await desk.account()
    page = await customer.client.get("/no-such-page")
    assert "data-chat-widget" in page.text and "Chat with us" in page.text
    assert "js/chat.js" in page.text and 'action="/support/messages"' in page.text
    for role in ("support", "admin"):
        staff = await desk.account(role=role)
        page = await staff.client.get("/no-such-page")
        assert "data-chat-widget" not in page.text and "Chat with us" not in page.text
        # an agent's chat is the inbox
        moved = await staff.client.get("/support")
        assert moved.status_code == 303 and moved.headers["location"] == "/admin/support"


async def test_the_inbox_is_for_support_and_admins_only(desk: Desk) -> None:
    customer = await desk.account()
    refused = await customer.client.get("/admin/support")
    assert refused.status_code == 403
    assert "support team" in refused.text
    agent = await desk.account(role="support")
    inbox = await agent.client.get("/admin/support")
    assert inbox.status_code == 200 and "Support inbox" in inbox.text
    assert 'class="admin-nav"' not in inbox.text  # the support role sees only the inbox
    admin = await desk.sign_in(desk.admin_email)
    inbox = await admin.client.get("/admin/support")
    assert inbox.status_code == 200 and 'class="admin-nav"' in inbox.text and '<a href="/admin">' in inbox.text


# -- the customer's page and its form --------------------------------------------------------------


async def test_a_customer_writes_without_javascript_and_the_history_stays(desk: Desk) -> None:
    customer = await desk.account()
    empty = await customer.client.get("/support")
    assert empty.status_code == 200 and "No messages yet" in empty.text
    sent = await write(customer, "  Where is my parcel?  ")
    assert sent.status_code == 303 and sent.headers["location"] == "/support#latest"
    again = await write(customer, "It was due on Monday.")
    assert again.status_code == 303
    [conversation] = await desk.conversations(customer)
    assert conversation["status"] == "open"  # the second message went to the same conversation
    bodies = [m["body"] for m in await desk.messages(customer, conversation["id"])]
    assert bodies == ["Where is my parcel?", "It was due on Monday."]
    page = await customer.client.get("/support")
    assert page.text.index("Where is my parcel?") < page.text.index("It was due on Monday.")
    assert f'data-conversation-id="{conversation["id"]}"' in page.text


async def test_the_form_needs_its_csrf_token_and_changes_nothing_without_it(desk: Desk) -> None:
    customer = await desk.account()
    missing = await customer.client.post("/support/messages", data={"body": "hello"})
    assert missing.status_code == 403
    forged = await write(customer, "hello", csrf="not-the-token")
    assert forged.status_code == 403
    other = await desk.account()
    borrowed = await write(customer, "hello", csrf=await csrf_of(other.client, "/support"))
    assert borrowed.status_code == 403
    assert await desk.conversations(customer) == []


async def test_too_long_or_blank_messages_are_refused_with_the_draft_kept(desk: Desk) -> None:
    customer = await desk.account()
    long_text = "x" * 2001
    refused = await write(customer, long_text)
    assert refused.status_code == 422
    assert "at most 2000 characters" in refused.text
    assert long_text in refused.text  # the draft is still in the box
    blank = await write(customer, "   ")
    assert blank.status_code == 422 and "Write a message first." in blank.text
    assert await desk.conversations(customer) == []
    fits = await write(customer, "y" * 2000)
    assert fits.status_code == 303


async def test_the_rate_limit_is_explained_on_the_page(desk: Desk) -> None:
    customer = await desk.account()
    for number in range(RATE):
        assert (await write(customer, f"message {number}")).status_code == 303
    limited = await write(customer, "one too many")
    assert limited.status_code == 429
    assert "Too many messages" in limited.text
    assert "one too many" in limited.text  # kept in the box for later
    [conversation] = await desk.conversations(customer)
    assert len(await desk.messages(customer, conversation["id"])) == RATE


async def test_messages_and_names_are_shown_as_text(desk: Desk) -> None:
    attack = "<img src=x onerror=alert(1)>"
    customer = await desk.account(name="<b>Eve</b>")
    assert (await write(customer, attack)).status_code == 303
    [conversation] = await desk.conversations(customer)
    own = await customer.client.get("/support")
    assert html.escape(attack, quote=False) in own.text and attack not in own.text
    agent = await desk.account(role="support")
    for path in ("/admin/support", f"/admin/support/{conversation['id']}"):
        page = await agent.client.get(path)
        assert page.status_code == 200
        assert "&lt;b&gt;Eve&lt;/b&gt;" in page.text and "<b>Eve</b>" not in page.text
    assert html.escape(attack, quote=False) in page.text and attack not in page.text


# -- the agents' side ------------------------------------------------------------------------------


async def test_an_agent_reads_answers_and_closes_a_conversation(desk: Desk) -> None:
    customer = await desk.account(name="Grace Customer")
    assert (await write(customer, "Can I change my address?")).status_code == 303
    [conversation] = await desk.conversations(customer)
    agent = await desk.account(role="support")

    inbox = await agent.client.get("/admin/support")
    assert "Grace Customer" in inbox.text
    row = inbox.text[inbox.text.index(f'data-conversation-id="{conversation["id"]}"') :]
    assert '<span class="badge" data-unread>1</span>' in row[: row.index("</li>")]

    opened = await agent.client.get(f"/admin/support/{conversation['id']}")
    assert opened.status_code == 200 and "Can I change my address?" in opened.text
    listed = await desk.client.get(f"{API}/conversations/{conversation['id']}", headers=agent.bearer)
    assert listed.json()["agent_unread"] == 0  # opening it read it

    token = await csrf_of(agent.client, f"/admin/support/{conversation['id']}")
    path = f"/admin/support/{conversation['id']}"
    refused = await agent.client.post(f"{path}/messages", data={"body": "no token"})
    assert refused.status_code == 403
    answered = await agent.client.post(f"{path}/messages", data={"body": "Yes, until it ships.", "csrf_token": token})
    assert answered.status_code == 303 and answered.headers["location"] == f"{path}#latest"
    history = await desk.messages(customer, conversation["id"])
    assert [(m["author_role"], m["body"]) for m in history] == [
        ("customer", "Can I change my address?"),
        ("agent", "Yes, until it ships."),
    ]
    assert "Yes, until it ships." in (await customer.client.get("/support")).text

    closed = await agent.client.post(f"{path}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    assert (await desk.conversations(customer))[0]["status"] == "closed"
    page = await agent.client.get(path)
    assert "This conversation is closed." in page.text and "Close conversation" not in page.text
    late = await agent.client.post(f"{path}/messages", data={"body": "one more thing", "csrf_token": token})
    assert late.status_code == 409 and "closed" in late.text
    assert len(await desk.messages(customer, conversation["id"])) == 2
    moved = await agent.client.get(f"/support/{conversation['id']}")  # the customer's URL, for an agent
    assert moved.status_code == 303 and moved.headers["location"] == path
    # the customer keeps the closed one in their list and starts afresh
    fresh = await customer.client.get("/support")
    assert "No messages yet" in fresh.text and f'href="/support/{conversation["id"]}"' in fresh.text
    old = await customer.client.get(f"/support/{conversation['id']}")
    assert old.status_code == 200 and "Yes, until it ships." in old.text and "Start a new chat" in old.text


async def test_another_customer_cannot_open_or_answer_a_conversation(desk: Desk) -> None:
    owner = await desk.account()
    assert (await write(owner, "private")).status_code == 303
    [conversation] = await desk.conversations(owner)
    intruder = await desk.account()
    page = await intruder.client.get(f"/support/{conversation['id']}")
    assert page.status_code == 404 and "private" not in page.text
    assert (await intruder.client.get(f"/support/{'x' * 200}")).status_code == 404
    token = await csrf_of(intruder.client, "/support")
    answer = await intruder.client.post(
        f"/admin/support/{conversation['id']}/messages", data={"body": "hijack", "csrf_token": token}
    )
    assert answer.status_code == 403
    close = await intruder.client.post(f"/admin/support/{conversation['id']}/close", data={"csrf_token": token})
    assert close.status_code == 403
    assert [m["body"] for m in await desk.messages(owner, conversation["id"])] == ["private"]
    assert (await desk.conversations(owner))[0]["status"] == "open"
    agent = await desk.account(role="support")
    missing = await agent.client.get(f"/admin/support/{uuid.uuid4()}")
    assert missing.status_code == 404


# -- degradation -----------------------------------------------------------------------------------


async def test_the_pages_degrade_when_support_is_down(desk: Desk) -> None:
    customer = await desk.account()
    agent = await desk.account(role="support")
    token = await csrf_of(customer.client, "/support")
    with desk.down("support"):
        page = await customer.client.get("/support")
        assert page.status_code == 200
        assert 'class="unavailable"' in page.text and "unavailable right now" in page.text
        inbox = await agent.client.get("/admin/support")
        assert inbox.status_code == 200 and "Conversations are unavailable right now." in inbox.text
        sent = await write(customer, "anyone there?", csrf=token)
        assert sent.status_code == 503 and "unavailable right now" in sent.text
        elsewhere = await customer.client.get("/no-such-page")
        assert elsewhere.status_code == 404 and "Chat with us" in elsewhere.text
    assert await desk.conversations(customer) == []
    assert (await customer.client.get("/support")).status_code == 200
