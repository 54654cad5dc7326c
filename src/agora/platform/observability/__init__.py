"""Observability for the chassis: JSON logs, Prometheus metrics, OpenTelemetry traces.

Wire it once per process, before building apps: :func:`configure_logging`, then
:func:`configure_tracing`; each app then adds :class:`agora.platform.http.middleware.ChassisMiddleware`.
"""

from agora.platform.observability.context import (
    authorization_var,
    current_authorization,
    current_request_id,
    new_request_id,
    request_id_var,
    service_var,
)
from agora.platform.observability.logging import configure_logging, get_logger
from agora.platform.observability.metrics import metrics_response
from agora.platform.observability.tracing import (
    configure_tracing,
    extract_context,
    inject_trace_headers,
    instrument_sqlalchemy,
    shutdown_tracing,
)

__all__ = [
    "authorization_var",
    "configure_logging",
    "configure_tracing",
    "current_authorization",
    "current_request_id",
    "extract_context",
    "get_logger",
    "inject_trace_headers",
    "instrument_sqlalchemy",
    "metrics_response",
    "new_request_id",
    "request_id_var",
    "service_var",
    "shutdown_tracing",
]
