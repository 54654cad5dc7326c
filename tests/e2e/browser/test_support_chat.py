"""Issue 7 in a real browser: a customer chats with support from any page while an agent answers
in the inbox, each in their own browser context (separate people), over the real WebSocket of a
real ``agora up``.

Each side's message must appear on the other's page within one second of the send; a reload
keeps the history; another customer cannot open the conversation.
"""

from __future__ import annotations

import re

from playwright.async_api import ConsoleMessage, Page, WebSocketRoute, expect

from agora.platform.testing.waiting import eventually
from tests.e2e.browser.conftest import Contexts, Site, api, screenshot, unique_email

PASSWORD = "a long enough password"
LIVE = 1000  # ms: the "within a second", measured from the send


def new_customer(site: Site, name: str) -> str:
    email = unique_email("chat")
    with api(site) as client:
        created = client.post(
            "/api/identity/register", json={"email": email, "password": PASSWORD, "display_name": name}
        )
        assert created.status_code == 201, created.text
    return email


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """A browser session (identity's cookies land in this page's context, as the login form does)."""
    response = await page.request.post(
        "/api/identity/login?session=cookie", data={"email": email, "password": password}
    )
    assert response.status == 200, await response.text()


def script_errors(page: Page) -> list[str]:
    """Console errors (script errors, CSP violations, failed loads) of ``page``, except the shop's
    product images: those are media's (the seeded catalog's images may be missing), not the chat's."""
    errors: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if message.type == "error" and "/api/media/" not in (message.location.get("url") or ""):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", collect)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_customer_and_agent_chat_live_both_ways(contexts: Contexts, site: Site) -> None:
    dialogs: list[str] = []
    agent = await contexts.new_page()
    agent.on("dialog", lambda dialog: dialogs.append(dialog.message))
    agent_errors = script_errors(agent)
    await sign_in(agent, site.admin_email, site.admin_password)
    await agent.goto("/admin/support")
    await expect(agent.get_by_role("heading", name="Support inbox")).to_be_visible()
    await expect(
        agent.get_by_role("navigation", name="Admin console").get_by_role("link", name="Dashboard")
    ).to_be_visible()

    customer = await contexts.new_page()
    customer.on("dialog", lambda dialog: dialogs.append(dialog.message))
    customer_errors = script_errors(customer)
    await sign_in(customer, new_customer(site, "Ada Chat"))
    await customer.goto("/")
    await customer.get_by_role("button", name="Chat with us").click()
    panel = customer.locator("[data-chat-panel]")
    await expect(panel).to_be_visible()
    box = panel.get_by_label("Your message")
    await box.fill("Hello, where is my order?")
    await box.press("Enter")
    await expect(panel.locator(".chat-log")).to_contain_text("Hello, where is my order?")
    await expect(box).to_have_value("")

    # the agent's inbox (open before the customer wrote) gets the conversation live, unread
    row = agent.locator(".inbox-item").first
    await expect(row.locator("[data-unread]")).to_have_text("1")
    await row.locator("a").click()
    await agent.wait_for_url(re.compile(r"/admin/support/[0-9a-f-]{36}"))
    conversation_id = agent.url.split("/admin/support/")[1].split("?")[0]
    agent_log = agent.locator("[data-chat] .chat-log")
    await expect(agent_log).to_contain_text("Hello, where is my order?")
    await expect(agent.locator(".inbox-item.current [data-unread]")).to_have_text("")

    # agent -> customer, live
    reply = agent.get_by_label("Your message")
    await reply.fill("It ships today. Anything else?")
    await reply.press("Enter")
    await expect(panel.locator(".chat-log")).to_contain_text("It ships today. Anything else?", timeout=LIVE)

    # customer -> agent, live; markup in a message is text on both pages
    attack = "<img src=x onerror=alert(1)> is that safe?"
    await box.fill(attack)
    await panel.get_by_role("button", name="Send").click()
    await expect(agent_log).to_contain_text(attack, timeout=LIVE)
    await expect(panel.locator(".chat-log")).to_contain_text(attack)
    assert await agent_log.locator("img").count() == 0
    assert await panel.locator("img").count() == 0
    await screenshot(agent, "support-inbox")

    # with the panel closed, an answer shows as an unread count on the launcher
    launcher = customer.get_by_role("button", name="Chat with us")
    await panel.get_by_role("button", name="Close the chat").click()
    await expect(panel).to_be_hidden()
    await reply.fill("Are you still there?")
    await reply.press("Enter")
    await expect(launcher.locator("[data-chat-unread]")).to_have_text("1", timeout=LIVE)
    await launcher.click()
    await expect(panel.locator(".chat-log")).to_contain_text("Are you still there?")
    await expect(launcher.locator("[data-chat-unread]")).to_have_text("")

    # a reload keeps the history: the panel opens again with it; the full page draws it too
    await customer.reload()
    await expect(panel.locator(".chat-message")).to_have_count(4)
    await expect(panel.locator(".chat-log")).to_contain_text("It ships today. Anything else?")
    await screenshot(customer, "support-customer", full_page=False)
    await customer.goto("/support")
    page_log = customer.locator("[data-chat] .chat-log")
    await expect(page_log.locator(".chat-message")).to_have_count(4)
    await expect(page_log).to_contain_text(attack)
    await agent.reload()
    await expect(agent_log.locator(".chat-message")).to_have_count(4)

    # both ways once more from the full page, then the agent closes the conversation
    await customer.get_by_label("Your message").fill("Thanks!")
    await customer.get_by_label("Your message").press("Enter")
    await expect(agent_log).to_contain_text("Thanks!", timeout=LIVE)
    await agent.get_by_role("button", name="Close conversation").click()
    await expect(customer.locator("[data-chat-status]")).to_contain_text("closed")
    state = await customer.request.get(f"/api/support/conversations/{conversation_id}")
    assert (await state.json())["status"] == "closed"
    # writing again opens a new conversation: a fresh log for the customer, a new row for the agent
    await customer.get_by_label("Your message").fill("One more question")
    await customer.get_by_label("Your message").press("Enter")
    await expect(page_log.locator(".chat-message")).to_have_count(1)
    await expect(agent.locator(".inbox-item.unread", has_text="Ada Chat")).to_have_count(1, timeout=LIVE)

    assert dialogs == []
    assert customer_errors == []
    assert agent_errors == []


async def test_the_chat_reconnects_and_another_customer_cannot_open_it(contexts: Contexts, site: Site) -> None:
    first = await contexts.new_page()
    first_errors = script_errors(first)
    sockets: list[WebSocketRoute] = []

    def relay(route: WebSocketRoute) -> None:
        """The page's WebSocket, passed through to the site (so the test can drop it), except the
        news that the conversation was closed (so the page learns it only when it writes)."""
        server = route.connect_to_server()
        server.on_message(lambda frame: None if '"type":"closed"' in str(frame) else route.send(frame))
        sockets.append(route)

    async def opened(count: int) -> None:
        async def enough() -> bool:
            return len(sockets) >= count

        await eventually(enough, within=15, what=f"{count} WebSocket connections from the page")

    await first.route_web_socket(re.compile(r"/api/support/ws$"), relay)
    await sign_in(first, new_customer(site, "First Customer"))
    await first.goto("/support")
    log = first.locator("[data-chat] .chat-log")
    await first.get_by_label("Your message").fill("My private question")
    await first.get_by_role("button", name="Send").click()
    await expect(log).to_contain_text("My private question")
    listed = await first.request.get("/api/support/conversations")
    conversation_id = (await listed.json())["items"][0]["id"]

    # the connection drops: the page connects again by itself and the agent's answer still arrives
    await opened(1)
    await sockets[-1].close(code=1012, reason="dropped by the test")
    await opened(2)
    with api(site) as client:
        login = client.post("/api/identity/login", json={"email": site.admin_email, "password": site.admin_password})
        agent = {"Authorization": f"Bearer {login.json()['access_token']}"}
        answered = client.post(
            f"/api/support/conversations/{conversation_id}/messages",
            json={"body": "Answered after the drop"},
            headers=agent,
        )
        assert answered.status_code == 201, answered.text
        await expect(log).to_contain_text("Answered after the drop")
        await first.reload()
        await expect(log.locator(".chat-message")).to_have_count(2)

        # closed behind the page's back: its next message opens a new conversation instead of failing
        closed = client.post(f"/api/support/conversations/{conversation_id}/close", headers=agent)
        assert closed.status_code == 200, closed.text
    await first.get_by_label("Your message").fill("Still there?")
    await first.get_by_label("Your message").press("Enter")
    await expect(log.locator(".chat-message")).to_have_count(1)
    await expect(log).to_contain_text("Still there?")
    await expect(first.locator("[data-chat-error]")).to_be_hidden()
    listed = await first.request.get("/api/support/conversations")
    assert [c["status"] for c in (await listed.json())["items"]] == ["open", "closed"]

    second = await contexts.new_page(width=390, height=844)
    await sign_in(second, new_customer(site, "Second Customer"))
    page = await second.goto(f"/support/{conversation_id}")
    assert page is not None and page.status == 404
    assert "My private question" not in await second.content()
    answer = await second.request.get(f"/api/support/conversations/{conversation_id}/messages")
    assert answer.status == 404
    inbox = await second.goto(f"/admin/support/{conversation_id}")
    assert inbox is not None and inbox.status == 403
    # their own chat on a phone: empty, and it fits the screen
    await second.goto("/support")
    await expect(second.locator("[data-chat-empty]")).to_be_visible()
    assert await second.evaluate("document.documentElement.scrollWidth") <= 390

    # the page says why a message is refused: too long (the box's own limit lifted), or too many
    box, error = second.get_by_label("Your message"), second.locator("[data-chat-error]")
    await box.evaluate("element => element.removeAttribute('maxlength')")
    await box.fill("x" * 2001)
    await box.press("Enter")
    await expect(error).to_contain_text("at most 2000 characters")
    await expect(second.locator(".chat-message")).to_have_count(0)
    sent = 0
    while True:
        sent += 1
        assert sent <= 20, "no rate limit after 20 messages"
        await box.fill(f"message {sent}")
        await box.press("Enter")
        await expect(second.locator("[data-chat-send]")).to_be_enabled()  # disabled while sending
        if await error.is_visible():
            break
    await expect(error).to_contain_text("Too many messages")
    await expect(box).to_have_value(f"message {sent}")  # kept, to send later
    await screenshot(second, "support-customer-phone")
    assert first_errors == []  # (the second's console has the 404 and 403 it was meant to get)
