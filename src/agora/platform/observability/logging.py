"""Structured JSON logs on stdout, one object per line, for structlog and stdlib loggers alike.

Every line carries ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``event``, ``service``,
``request_id`` and, inside a recording span, ``trace_id``/``span_id`` so a log line can be joined
to its trace. Library loggers (uvicorn, SQLAlchemy, aiokafka...) go through the same
:class:`structlog.stdlib.ProcessorFormatter`, so nothing on stdout is free text.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from opentelemetry import trace

from agora.platform.observability.context import request_id_var

REDACTED = "***"

# Keys whose value is a credential or card data wherever they appear (compared lower-cased).
_SENSITIVE_EXACT = frozenset({"number", "cvc", "cvv", "pan", "pin", "cookie", "set-cookie", "api_key"})
_SENSITIVE_PARTS = ("password", "passwd", "token", "secret", "authorization", "card", "cvc", "apikey")
_MAX_DEPTH = 4

# Loggers that install their own handlers; we take those away so they reach the root's JSON handler.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "sqlalchemy", "aiokafka")

_state: dict[str, Any] = {"handler": None, "service": None, "structlog": False}


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is when a line is emitted, not when it was configured:
    test runners and some process managers swap it, and a handler holding a closed stream fails."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


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


def add_request_context(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Add ``service``, ``request_id`` and the current span's ``trace_id``/``span_id``."""
    if "service" not in event_dict and _state["service"] is not None:
        event_dict["service"] = _state["service"]
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
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_request_context,
        redact_sensitive,
    ]


def _formatter(json: bool) -> structlog.stdlib.ProcessorFormatter:
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # show_locals=False: a frame's locals hold passwords and tokens the redactor never sees.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
            if json
            else structlog.processors.format_exc_info,
            renderer,
        ],
    )


def configure_logging(
    *,
    level: str | int = "INFO",
    json: bool = True,
    service: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging to one JSON-lines handler on ``stream`` (stdout).

    Safe to call again: the previous handler is replaced, never duplicated, so a test or a second
    app factory in the same process does not double every line.
    """
    _state["service"] = service
    if not _state["structlog"]:
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *_shared_processors(),
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.processors.StackInfoRenderer(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )
        _state["structlog"] = True

    handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(_formatter(json))
    root = logging.getLogger()
    previous = _state["handler"]
    for existing in list(root.handlers):
        # Ours from an earlier call, or a plain stream handler from ``logging.basicConfig``; other
        # handlers (pytest's capture, a file handler someone added on purpose) stay.
        if existing is previous or type(existing) in (logging.StreamHandler, _StdoutHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    _state["handler"] = handler

    for name in _LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    # The chassis middleware writes the access log and service clients record metrics and spans;
    # uvicorn's and httpx's per-request info lines would only repeat them.
    for name in ("uvicorn.access", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str | None = None, **initial_values: Any) -> Any:
    """A structlog logger named ``name``; ``initial_values`` are bound to every line it writes."""
    logger = structlog.stdlib.get_logger(name)
    return logger.bind(**initial_values) if initial_values else logger


__all__ = [
    "REDACTED",
    "add_request_context",
    "configure_logging",
    "get_logger",
    "redact_sensitive",
]
