"""No secret reaches the logs, and every line logged within a request joins its trace (issue 15, item 3).

``agora up`` (every service in one process, so its log is every service's log) at the DEBUG
level, the most an operator can turn on (production runs at INFO), emails going to this test's
SMTP server. Whole journeys over HTTP: register, a failed and a good login (bearer and cookie
sessions), refresh, password change through the emailed reset link, checkouts with a good and
a declined card, the support chat over REST and over the WebSocket with the token in the query
string (what browsers do), logout. Then every line of the log is scanned for each password,
every access and refresh token handed out, the reset token, the card numbers (with and without
spaces) and the CVC.

tests/e2e/test_trace_checkout.py scans the logs of its distributed run (the front and each
service's process) for its shopper's password, token and card number too.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from agora.platform.testing.processes import agora_command, free_port, running_process, wait_until_ready
from tests.integration.notifications.support import smtp_server, text_of
from tests.support.shop import ADDRESS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "first Quokka passphrase 5521"
NEW_PASSWORD = "second Wombat passphrase 8830"
WRONG_PASSWORD = "mistyped Numbat passphrase 3317"
CVC = "739"
CARD = {"number": "4242424242424242", "exp_month": 11, "exp_year": 2036, "cvc": CVC}
DECLINED = {**CARD, "number": "4000 0000 0000 0002"}


def card_forms(number: str) -> set[str]:
    digits = number.replace(" ", "")
    return {digits, " ".join(digits[i : i + 4] for i in range(0, 16, 4))}


def reset_token(messages: list[object]) -> str | None:
    for message in messages:
        link = re.search(r"https?://\S+/reset-password\?\S+", text_of(message))  # type: ignore[arg-type]
        if link:
            return parse_qs(urlsplit(link.group(0)).query)["token"][0]
    return None


def test_no_password_token_or_card_data_in_any_log_line(tmp_path: Path) -> None:
    secrets: set[str] = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, *card_forms(CARD["number"])}
    secrets |= card_forms(DECLINED["number"])
    email = f"logscan-{uuid.uuid4().hex[:10]}@example.com"
    with smtp_server() as (mailbox, smtp_port):
        port = free_port()
        env = {
            "AGORA_ENVIRONMENT": "development",
            "AGORA_LOG_LEVEL": "DEBUG",
            "AGORA_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "AGORA_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
        }
        command = agora_command("up", "--port", str(port), "--data-dir", str(tmp_path / "var"))
        log_path = tmp_path / "agora.log"
        with running_process(command, log_path=log_path, env=env) as process:
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(f"{base}/readyz", timeout=150, process=process)
            with httpx.Client(base_url=base, timeout=30) as client:
                body = {"email": email, "password": PASSWORD, "display_name": "Log Scan"}
                assert client.post("/api/identity/register", json=body).status_code == 201
                wrong = client.post("/api/identity/login", json={"email": email, "password": WRONG_PASSWORD})
                assert wrong.status_code == 401
                tokens = client.post("/api/identity/login", json={"email": email, "password": PASSWORD}).json()
                refreshed = client.post("/api/identity/refresh", json={"refresh_token": tokens["refresh_token"]})
                assert refreshed.status_code == 200, refreshed.text
                pairs = [tokens, refreshed.json()]
                user = {"Authorization": f"Bearer {pairs[-1]['access_token']}"}
                assert client.get("/api/identity/me", headers=user).status_code == 200
                browser = client.post(
                    "/api/identity/login", params={"session": "cookie"}, json={"email": email, "password": PASSWORD}
                )
                assert browser.status_code == 200, browser.text
                secrets.update(value for value in browser.cookies.values() if len(value) >= 16)
                client.cookies.clear()

                product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
                for card, expected in ((DECLINED, 402), (CARD, 201)):
                    added = client.post(
                        "/api/cart/items", json={"product_id": product["id"], "quantity": 1}, headers=user
                    )
                    assert added.status_code in (200, 201), added.text
                    checkout = client.post(
                        "/api/orders/checkout",
                        json={"currency": "EUR", "shipping_address": ADDRESS, "card": card},
                        headers={**user, "Idempotency-Key": str(uuid.uuid4())},
                    )
                    assert checkout.status_code == expected, checkout.text

                opened = client.post("/api/support/conversations", json={"subject": "Where is my parcel"}, headers=user)
                assert opened.status_code == 201, opened.text
                posted = client.post(
                    f"/api/support/conversations/{opened.json()['id']}/messages",
                    json={"body": "It has not arrived yet."},
                    headers=user,
                )
                assert posted.status_code == 201, posted.text
                with connect(f"ws://127.0.0.1:{port}/api/support/ws?access_token={pairs[-1]['access_token']}") as ws:
                    ws.send(orjson.dumps({"type": "ping", "ref": 1}).decode())
                    assert orjson.loads(ws.recv(timeout=10))["type"]

                # password change: the emailed single-use link, then the new password
                assert client.post("/api/identity/password-reset", json={"email": email}).status_code == 202
                deadline = time.monotonic() + 30
                while (token := reset_token(mailbox.messages(email))) is None:
                    assert time.monotonic() < deadline, "no password reset email"
                    time.sleep(0.1)  # the email leaves through the outbox and the mailer: nothing to await
                secrets.add(token)
                confirmed = client.post(
                    "/api/identity/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
                )
                assert confirmed.status_code == 204, confirmed.text
                again = client.post("/api/identity/login", json={"email": email, "password": NEW_PASSWORD})
                assert again.status_code == 200, again.text
                pairs.append(again.json())
                logout = client.post("/api/identity/logout", json={"refresh_token": pairs[-1]["refresh_token"]})
                assert logout.status_code == 204, logout.text
        # stopped: everything the process wrote is in the file
        for pair in pairs:
            secrets.update((pair["access_token"], pair["refresh_token"]))

    log = log_path.read_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) > 50, "the journeys were logged"
    leaks = sorted({secret[:12] for secret in secrets if secret in log})
    assert not leaks, f"secrets in the log (first characters): {leaks}"
    # three digits also turn up as parts of numbers: the CVC counts as leaked as a string of its
    # own (a dumped card, a repr) or next to a cvc/cvv/security-code key
    cvc = rf"[\"']{CVC}[\"']|(cvc|cvv|security.?code)\W{{0,8}}{CVC}(?![0-9])"
    assert not re.search(cvc, log, re.IGNORECASE), "the CVC is in the log"

    # every JSON line written while handling a request carries the trace and span of that request
    records = [orjson.loads(line) for line in lines if line.startswith("{")]
    in_requests = [record for record in records if "request_id" in record]
    assert len(in_requests) > 20
    for record in in_requests:
        assert re.fullmatch(r"[0-9a-f]{32}", record.get("trace_id", "")), record
        assert re.fullmatch(r"[0-9a-f]{16}", record.get("span_id", "")), record
    assert {"service", "level", "event", "timestamp"} <= set().union(*(record.keys() for record in records))
