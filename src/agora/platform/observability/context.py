"""Per-request values that travel with the task: the request id and the caller's credentials.

They are :mod:`contextvars`, so they follow ``await`` chains and the thread pool Starlette uses for
sync endpoints, and each request's values vanish when its middleware resets them.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("agora_request_id", default=None)
"""The current request's id (``X-Request-ID``), set by the chassis middleware."""

authorization_var: ContextVar[str | None] = ContextVar("agora_authorization", default=None)
"""The caller's ``Authorization`` header value, kept so service clients can pass it on."""


service_var: ContextVar[str | None] = ContextVar("agora_service", default=None)
"""The service handling the current request; in embedded mode one process hosts them all."""


def new_request_id() -> str:
    """A fresh request id: 32 hex characters, random enough to never collide in practice.

    ``os.urandom(16).hex()`` rather than ``uuid4().hex``: same entropy without building a UUID object.
    """
    return os.urandom(16).hex()


def current_request_id() -> str | None:
    return request_id_var.get()


def current_authorization() -> str | None:
    return authorization_var.get()


__all__ = [
    "authorization_var",
    "current_authorization",
    "current_request_id",
    "new_request_id",
    "request_id_var",
    "service_var",
]
