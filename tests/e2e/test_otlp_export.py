"""Traces leave over OTLP/HTTP when an endpoint is configured: a real receiver gets the request's span."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from agora.platform.testing.processes import agora_command, free_port, running_process, stop, wait_until_ready


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append((self.path, self.headers.get("content-type", ""), body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_spans_are_exported_to_the_configured_endpoint(tmp_path: Path) -> None:
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
        port = free_port()
        env = {"AGORA_OTLP_ENDPOINT": endpoint, "AGORA_ENVIRONMENT": "development"}
        log_path = tmp_path / "serve.log"
        command = agora_command("serve", "catalog", "--port", str(port), "--data-dir", str(tmp_path / "var"))
        with running_process(command, log_path=log_path, env=env) as process:
            wait_until_ready(f"http://127.0.0.1:{port}/readyz", timeout=60, process=process)
            assert httpx.get(f"http://127.0.0.1:{port}/api/catalog/categories", timeout=10).status_code == 200
            stop(process)  # shutdown flushes the batch
        access = [
            json.loads(line)
            for line in log_path.read_text().splitlines()
            if line.startswith("{") and '"route":"/api/catalog/categories"' in line
        ]
        trace_id = bytes.fromhex(access[0]["trace_id"])
        posts = [(path, kind, body) for path, kind, body in _Collector.received if path == "/v1/traces"]
        assert posts, "no OTLP request arrived"
        assert all(kind == "application/x-protobuf" for _, kind, _ in posts)
        exported = b"".join(body for _, _, body in posts)
        assert trace_id in exported  # the request's own trace
        assert b"/api/catalog/categories" in exported and b"catalog" in exported
        assert b"SELECT" in exported  # the request's SQL statements, as child spans
    finally:
        collector.shutdown()
