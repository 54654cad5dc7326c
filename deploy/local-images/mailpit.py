#!/opt/tools/bin/python
"""An SMTP catcher in the place of Mailpit (whose image cannot be pulled or built here).

Hand-written because no packaged catcher speaks Mailpit's API: aiosmtpd receives on 1025
(accepting any login, as ``MP_SMTP_AUTH_ACCEPT_ANY`` does), and the standard library's HTTP
server answers the part of Mailpit's API on 8025 that tests read:
``GET /api/v1/messages`` (newest first), ``GET /api/v1/message/<ID>``, ``GET /readyz``.
``/mailpit readyz`` is the healthcheck command, as in the official image.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

MESSAGES: list[dict[str, Any]] = []
LOCK = threading.Lock()


def _addresses(value: str | None) -> list[dict[str, str]]:
    return [{"Name": name, "Address": address} for name, address in getaddresses([value or ""]) if address]


class Catcher:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        record = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(message["Message-ID"] or ""),
            "From": (_addresses(message["From"]) or [{"Name": "", "Address": envelope.mail_from}])[0],
            "To": _addresses(message["To"]) or [{"Name": "", "Address": a} for a in envelope.rcpt_tos],
            "Subject": str(message["Subject"] or ""),
            "Created": datetime.now(UTC).isoformat(),
            "Snippet": text[:250],
            "Text": text,
        }
        with LOCK:
            MESSAGES.insert(0, record)
        return "250 Message accepted for delivery"


def _accept_any(*_: Any) -> AuthResult:
    return AuthResult(success=True)


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        with LOCK:
            messages = list(MESSAGES)
        if self.path == "/readyz":
            self._send(200, {"ok": True})
        elif self.path.startswith("/api/v1/messages"):
            summary = [{k: v for k, v in m.items() if k != "Text"} for m in messages]
            self._send(200, {"total": len(messages), "messages_count": len(messages), "messages": summary})
        elif self.path.startswith("/api/v1/message/"):
            wanted = self.path.rsplit("/", 1)[1]
            found = next((m for m in messages if m["ID"] == wanted), None)
            self._send(200 if found else 404, found or {"error": "not found"})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:  # healthchecks every few seconds: keep the log for mail
        return


def main() -> None:
    if sys.argv[1:] == ["readyz"]:
        urllib.request.urlopen("http://127.0.0.1:8025/readyz", timeout=3)
        return
    controller = Controller(
        Catcher(),
        hostname="0.0.0.0",  # noqa: S104 - inside its container
        port=1025,
        authenticator=_accept_any,
        auth_require_tls=False,
    )
    controller.start()
    # as PID 1 nothing stops on SIGTERM unless it says so (the kernel ignores unhandled signals)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("SMTP on 0.0.0.0:1025, API on 0.0.0.0:8025", flush=True)
    try:
        ThreadingHTTPServer(("0.0.0.0", 8025), Api).serve_forever()  # noqa: S104 - inside its container
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
