"""Helpers for the notifications tests: an SMTP catcher, a streaming ASGI client, event builders."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import orjson
from aiosmtpd.controller import Controller

from agora.contracts import orders, payments, shipping
from agora.platform.messaging import Envelope

# -- a real SMTP server --------------------------------------------------------------------------


class Catcher:
    """aiosmtpd handler keeping every accepted message (the server runs in its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def messages(self, recipient: str | None = None) -> list[Message]:
        with self._lock:
            return [m for rcpt, m in self._messages if recipient is None or recipient in rcpt]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Catcher, int]]:
    catcher = Catcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield catcher, port
    finally:
        controller.stop()


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


# -- Server-Sent Events over ASGI, streamed ------------------------------------------------------


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Like httpx.ASGITransport, but the body arrives as the app sends it (httpx's buffers it all,
    which never ends for an event stream). Closing the response tells the app the client left."""

    def __init__(self, app: Any) -> None:
        self.app = app

    # C901 waived: a minimal ASGI server (receive, send, run) in one frame, as httpx's own transport
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:  # noqa: C901
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port or 80),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        started: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        gone = asyncio.Event()
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(message["body"])
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if not started.done():
                    started.set_exception(exc)
            finally:
                chunks.put_nowait(None)

        task = asyncio.create_task(run())
        start = await started

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                while (chunk := await chunks.get()) is not None:
                    yield chunk

            async def aclose(self) -> None:
                gone.set()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 5.0)

        return httpx.Response(start["status"], headers=start.get("headers", []), stream=Body())


class EventStream:
    """One open ``GET /api/notifications/stream``: read its events with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, *, within: float) -> tuple[str, dict[str, Any]] | None:
        """The next (event, data), or None when ``within`` seconds pass without one."""
        deadline = time.monotonic() + within
        name, data = "message", ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                line = await asyncio.wait_for(self._lines.__anext__(), remaining)
            except TimeoutError:
                return None
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data += line.split(":", 1)[1].strip()
            elif line == "" and data:
                return name, orjson.loads(data)


@contextlib.asynccontextmanager
async def open_stream(app: Any, headers: dict[str, str]) -> AsyncIterator[EventStream]:
    """Opens the stream and waits for its ``ready`` event (the subscription is in place)."""
    async with httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://agora.test") as client:
        async with client.stream("GET", "/api/notifications/stream", headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = EventStream(response)
            ready = await stream.next_event(within=10.0)
            assert ready is not None and ready[0] == "ready", ready
            yield stream


# -- events as their services publish them --------------------------------------------------------


def money(amount: int, currency: str = "EUR") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def new_order_id() -> str:
    return str(uuid.uuid4())


def _facts(order_id: str, user_id: str) -> dict[str, Any]:
    line = {
        "product_id": "p-1",
        "sku": "SKU-1",
        "name": "Walnut desk",
        "quantity": 2,
        "unit_price": money(1500),
        "line_total": money(3000),
    }
    return {
        "order_id": order_id,
        "user_id": user_id,
        "currency": "EUR",
        "items": [line],
        "subtotal": money(3000),
        "shipping": money(500),
        "total": money(3500),
    }


def order_event(event_type: str, order_id: str, user_id: str) -> Envelope:
    data: dict[str, Any] = {"order_id": order_id, "user_id": user_id}
    if event_type == orders.ORDER_PLACED:
        address = {"name": "Ada", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"}
        data = {**_facts(order_id, user_id), "shipping_address": {**address, "country": "DE"}}
    elif event_type == orders.ORDER_PAID:
        data = {**_facts(order_id, user_id), "payment_id": "ch-1"}
    elif event_type == orders.ORDER_FAILED:
        data.update(code="reservation_lost", reason="An item sold out before the payment.")
    elif event_type == orders.ORDER_CANCELLED:
        data.update(total=money(3500), payment_id="ch-1")
    elif event_type == orders.ORDER_SHIPPED:
        data.update(tracking_id="TRK-123")
    return Envelope(type=event_type, source=orders.SOURCE, data=data, subject=order_id)


def payment_captured(order_id: str, user_id: str) -> Envelope:
    card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    data = {"charge_id": "ch-1", "order_id": order_id, "user_id": user_id, "amount": money(3500), "card": card}
    return Envelope(type=payments.PAYMENT_CAPTURED, source=payments.SOURCE, data=data, subject=order_id)


def shipment_created(order_id: str) -> Envelope:
    data = {
        "shipment_id": "sh-1",
        "order_id": order_id,
        "tracking_id": "TRK-987",
        "carrier": "DHL",
        "zone": "europe",
        "estimated_days": 3,
        "created_at": datetime.now(UTC).isoformat(),
    }
    return Envelope(type=shipping.SHIPMENT_CREATED, source=shipping.SOURCE, data=data, subject=order_id)
