"""Structured JSON logs on stdout, one object per line, for structlog and stdlib loggers alike.

Every line carries ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``event``, ``service``,
``request_id`` and, inside a recording span, ``trace_id``/``span_id`` so a log line can be joined
to its trace. Library loggers (uvicorn, SQLAlchemy, aiokafka...) go through a
:class:`structlog.stdlib.ProcessorFormatter` with the same processors, so nothing on stdout is
free text.

structlog's own loggers do not detour through stdlib ``logging``: rendering straight to the line
writer skips two ``LogRecord`` allocations and a formatter pass, which is most of the cost of the
per-request access log line. Both paths share one writer and one lock, so lines never interleave.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
import structlog
from opentelemetry import trace

from agora.platform.observability.context import request_id_var, service_var

REDACTED = "***"

# Keys whose value is a credential or card data wherever they appear (compared lower-cased).
_SENSITIVE_EXACT = frozenset({"number", "cvc", "cvv", "pan", "pin", "cookie", "set-cookie", "api_key"})
_SENSITIVE_PARTS = ("password", "passwd", "token", "secret", "authorization", "card", "cvc", "apikey")
_MAX_DEPTH = 4
# Credentials in a URL's query string, as libraries log them in free text: uvicorn's
# '"WebSocket /api/support/ws?access_token=..." [accepted]' line (browsers cannot set headers on a
# WebSocket, so the support chat takes its token there). Any parameter named like a credential.
_URL_CREDENTIAL = re.compile(
    r"([?&;][^=&\s\"']*(?:token|password|passwd|secret|key|code|signature|session)[^=&\s\"']*=)[^&#\s\"']+",
    re.IGNORECASE,
)

# Loggers that install their own handlers; we take those away so they reach the root's JSON handler.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "sqlalchemy", "aiokafka")

_state: dict[str, Any] = {"handler": None, "service": None, "structlog": False, "writer": None, "level": logging.INFO}


class _LineWriter:
    """Writes whole lines to ``stream``, or to whatever ``sys.stdout`` is at write time: test
    runners and some process managers swap it, and a writer holding a closed stream would fail.

    It is also the "logger" structlog hands rendered lines to, hence the level-named methods.
    """

    _lock = threading.Lock()

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def msg(self, line: str) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()  # one line per write reaches the collector now, not at buffer-full

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _NamedSink:
    """What a named structlog logger wraps: the shared writer plus the name for the ``logger`` key."""

    __slots__ = ("msg", "name")

    def __init__(self, writer: _LineWriter, name: str | None) -> None:
        self.name = name
        self.msg = writer.msg

    def __getattr__(self, _level: str) -> Any:
        return self.msg


class _LineHandler(logging.Handler):
    """The stdlib side: formats a record with the ProcessorFormatter and hands it to the writer."""

    def __init__(self, writer: _LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.msg(self.format(record))
        except Exception:
            self.handleError(record)


def _is_sensitive(key: str, _cache: dict[str, bool] = {}) -> bool:  # noqa: B006 - a deliberate memo
    try:
        return _cache[key]
    except KeyError:
        lowered = key.lower()
        verdict = lowered in _SENSITIVE_EXACT or any(part in lowered for part in _SENSITIVE_PARTS)
        if len(_cache) < 4096:  # keys come from code, but never let a hostile payload grow this
            _cache[key] = verdict
        return verdict


def _redact_value(value: Any, depth: int) -> Any:
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _is_sensitive(k) else _redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def redact_sensitive(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Replace the values of credential-like keys (at any nesting level up to 4) with ``***``."""
    for key, value in event_dict.items():
        if _is_sensitive(key):
            event_dict[key] = REDACTED
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = _redact_value(value, 1)
    return event_dict


def redact_url_credentials(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Replace credential-like query parameters' values in the message (``?access_token=***``)."""
    event = event_dict.get("event")
    if isinstance(event, str) and "=" in event:
        event_dict["event"] = _URL_CREDENTIAL.sub(rf"\g<1>{REDACTED}", event)
    return event_dict


def add_logger_name(logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    record = event_dict.get("_record")
    name = record.name if record is not None else getattr(logger, "name", None)
    if name:
        event_dict.setdefault("logger", name)
    return event_dict


def add_request_context(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Add ``service``, ``request_id`` and the current span's ``trace_id``/``span_id``."""
    if "service" not in event_dict:
        service = service_var.get() or _state["service"]
        if service is not None:
            event_dict["service"] = service
    if "request_id" not in event_dict:
        request_id = request_id_var.get()
        if request_id is not None:
            event_dict["request_id"] = request_id
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", format(span_context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_context.span_id, "016x"))
    return event_dict


def _dumps(obj: Any, **_: Any) -> str:
    # orjson is several times faster than json; ``default=str`` keeps odd values (UUID subclasses,
    # Decimals, exceptions) from turning a log call into an error.
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_context,
        redact_sensitive,
        redact_url_credentials,
    ]


def _exception_renderer(json: bool) -> Any:
    if not json:
        return structlog.processors.format_exc_info
    # show_locals=False: a frame's locals hold passwords and tokens the redactor never sees.
    return structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))


def _renderer(json: bool) -> Any:
    if json:
        return structlog.processors.JSONRenderer(serializer=_dumps)
    return structlog.dev.ConsoleRenderer(colors=False)


def _formatter(json: bool) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _exception_renderer(json),
            _renderer(json),
        ],
    )


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    *,
    level: str | int = "INFO",
    json: bool = True,
    service: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send structlog and stdlib logging, as JSON lines, to ``stream`` (default: stdout).

    Safe to call again: the previous handler is replaced, never duplicated. Call it before the
    first log line; loggers already used keep the level they were created with.
    """
    level_number = _level_number(level)
    _state["service"] = service
    writer = _LineWriter(stream)
    _state["writer"] = writer
    _state["level"] = level_number
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            _exception_renderer(json),
            _renderer(json),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=lambda name=None, *_args: _NamedSink(writer, name),
        cache_logger_on_first_use=True,
    )

    handler = _LineHandler(writer)
    handler.setFormatter(_formatter(json))
    root = logging.getLogger()
    previous = _state["handler"]
    for existing in list(root.handlers):
        # Ours from an earlier call, or a plain stream handler from ``logging.basicConfig``; other
        # handlers (pytest's capture, a file handler someone added on purpose) stay.
        if existing is previous or type(existing) in (logging.StreamHandler, _LineHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level_number)
    _state["handler"] = handler

    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    # a uvicorn server configured earlier in the process (its Config sets its loggers' levels from
    # its log_level) must not keep lines from the level asked for here. Only uvicorn's: the other
    # libraries keep their levels (SQLAlchemy's engine logger at INFO would write every statement
    # with its parameters, password hashes included)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    # The chassis middleware writes the access log and service clients record metrics and spans;
    # uvicorn's and httpx's per-request info lines would only repeat them. aiosqlite's debug lines
    # are every statement with its parameters (an event's payload, a reset token): rows are data,
    # not diagnostics, and AGORA_<SERVICE>_DATABASE_ECHO is the deliberate switch for statements.
    for name in ("uvicorn.access", "httpx", "alembic.runtime.plugins", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)


def event_enabled(level: int) -> bool:
    """Whether :func:`write_event` would write a line at ``level``: check it before building one."""
    return _state["writer"] is not None and level >= _state["level"]


def write_event(fields: dict[str, Any], *, level: int = logging.INFO) -> None:
    """The fast path for the per-request access line: ``fields`` rendered as-is, no processors.

    Only for fields the caller knows are safe (nothing to redact) and already complete; adds the
    timestamp and the current span's ids. It writes the same JSON shape as :func:`get_logger` at
    a fraction of the cost, which matters for a line written on every request.
    """
    writer: _LineWriter | None = _state["writer"]
    if writer is None or level < _state["level"]:
        return
    fields["level"] = logging.getLevelName(level).lower()
    fields["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        fields["trace_id"] = format(span_context.trace_id, "032x")
        fields["span_id"] = format(span_context.span_id, "016x")
    writer.msg(orjson.dumps(fields, default=str).decode())


def get_logger(name: str | None = None, **initial_values: Any) -> Any:
    """A structlog logger named ``name``; ``initial_values`` are bound to every line it writes."""
    return structlog.get_logger(name, **initial_values)


__all__ = [
    "REDACTED",
    "add_request_context",
    "configure_logging",
    "event_enabled",
    "get_logger",
    "redact_sensitive",
    "redact_url_credentials",
    "write_event",
]
