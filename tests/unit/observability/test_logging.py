"""JSON log lines: shape, redaction, request/trace ids, stdlib routing, idempotent setup."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from opentelemetry import trace

from agora.platform.observability.context import request_id_var
from agora.platform.observability.logging import configure_logging, get_logger
from agora.platform.observability.tracing import configure_tracing


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging(level="INFO", json=True, service="orders", stream=out)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_standard_fields(stream: io.StringIO) -> None:
    get_logger("agora.orders").info("order placed", order_id="o-1", total_cents=1250)
    [line] = lines(stream)
    assert line["event"] == "order placed"
    assert line["level"] == "info"
    assert line["logger"] == "agora.orders"
    assert line["service"] == "orders"
    assert line["order_id"] == "o-1"
    assert line["total_cents"] == 1250
    assert line["timestamp"].endswith("Z") and "T" in line["timestamp"]
    assert "request_id" not in line and "trace_id" not in line


def test_request_id_and_trace_ids_come_from_the_context(stream: io.StringIO) -> None:
    configure_tracing("agora-tests")
    token = request_id_var.set("req-7")
    try:
        with trace.get_tracer("test").start_as_current_span("work") as span:
            get_logger("x").warning("inside")
    finally:
        request_id_var.reset(token)
    [line] = lines(stream)
    context = span.get_span_context()
    assert line["request_id"] == "req-7"
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_secrets_are_redacted_at_any_depth(stream: io.StringIO) -> None:
    get_logger("x").info(
        "login",
        password="hunter2",
        Authorization="Bearer abc",
        refresh_token="r",
        client_secret="s",
        email="a@example.com",
        payment={"card": {"number": "4242424242424242", "cvc": "123"}, "amount": 10},
        headers=[{"X-Api-Token": "t", "accept": "json"}],
    )
    [line] = lines(stream)
    for key in ("password", "Authorization", "refresh_token", "client_secret"):
        assert line[key] == "***"
    assert line["email"] == "a@example.com"
    assert line["payment"] == {"card": "***", "amount": 10}
    assert line["headers"] == [{"X-Api-Token": "***", "accept": "json"}]
    assert "hunter2" not in stream.getvalue() and "4242" not in stream.getvalue()


def test_card_fields_nested_without_a_card_parent_are_redacted(stream: io.StringIO) -> None:
    get_logger("x").info("charge", details={"number": "4242424242424242", "cvc": "999", "brand": "visa"})
    [line] = lines(stream)
    assert line["details"] == {"number": "***", "cvc": "***", "brand": "visa"}


def test_stdlib_loggers_are_rendered_as_json_too(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("Started %s", "server", extra={"ignored": True})
    logging.getLogger("aiokafka.consumer").info("joined group")
    parsed = lines(stream)
    assert [(p["logger"], p["event"], p["level"]) for p in parsed] == [
        ("uvicorn.error", "Started server", "warning"),
        ("aiokafka.consumer", "joined group", "info"),
    ]
    assert all(p["service"] == "orders" for p in parsed)


def test_credentials_in_a_librarys_url_are_redacted(stream: io.StringIO) -> None:
    # uvicorn logs a WebSocket's path with its query string, where the support chat's token travels
    path = "/api/support/ws?access_token=eyJhbGciOi.payload.signature&lang=en"
    logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", path)
    [line] = lines(stream)
    assert line["event"] == '127.0.0.1:5000 - "WebSocket /api/support/ws?access_token=***&lang=en" [accepted]'
    assert "eyJhbGciOi" not in stream.getvalue()


def test_a_level_left_by_an_earlier_server_does_not_hide_library_lines() -> None:
    # uvicorn's Config sets "uvicorn.error" to its log_level; a process that ran such a server
    # (the test suite does) and then configures logging at INFO must see uvicorn's INFO lines
    library = logging.getLogger("uvicorn.error")
    root = logging.getLogger()
    handlers, level, library_level = list(root.handlers), root.level, library.level
    library.setLevel(logging.WARNING)
    out = io.StringIO()
    try:
        configure_logging(level="INFO", json=True, service="support", stream=out)
        library.info("Waiting for application startup.")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        library.setLevel(library_level)
    [line] = lines(out)
    assert line["event"] == "Waiting for application startup."


def test_exceptions_are_structured_without_frame_locals(stream: io.StringIO) -> None:
    try:
        password = "in-a-local"  # noqa: F841 - must not leak through the traceback
        raise ValueError("bad")
    except ValueError:
        get_logger("x").exception("failed")
    [line] = lines(stream)
    assert line["level"] == "error"
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert "in-a-local" not in stream.getvalue()


def test_level_filters_and_reconfiguring_does_not_duplicate_lines(stream: io.StringIO) -> None:
    configure_logging(level="WARNING", service="orders", stream=stream)
    configure_logging(level="WARNING", service="orders", stream=stream)
    get_logger("x").info("hidden")
    get_logger("x").warning("shown")
    logging.getLogger("lib").info("hidden too")
    assert [line["event"] for line in lines(stream)] == ["shown"]


def test_default_stream_follows_sys_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(service="orders")
        replaced = io.StringIO()
        monkeypatch.setattr(sys, "stdout", replaced)
        get_logger("x").info("to the current stdout")
        assert orjson.loads(replaced.getvalue())["event"] == "to the current stdout"
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
