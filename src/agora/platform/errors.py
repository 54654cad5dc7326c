"""The one error type a service's business rules raise (no web framework in sight).

``service.py`` modules raise subclasses with a ``status``; the chassis turns any of them into an
RFC 9457 problem naming the field, so endpoints need no translation layer of their own.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A rule refused the request: ``status`` is its HTTP status, ``field`` the input at fault."""

    status: int = 400
    field: str | None = None

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if field is not None:
            self.field = field
        self.extra: dict[str, Any] = extra
        """More members for the problem body (``reason``, ``order_id``...): facts a client acts on."""


class UnauthorizedError(ServiceError):
    """The call carries no identity the operation accepts (a route's 401)."""

    status = 401


class ForbiddenError(ServiceError):
    """The caller is known but lacks the role the operation needs (a route's 403)."""

    status = 403


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    """The request contradicts what is stored (a duplicate, a concurrent change)."""

    status = 409


class PreconditionFailedError(ServiceError):
    status = 412


class PaymentRequiredError(ServiceError):
    """The payment was refused (a declined card)."""

    status = 402


class BadGatewayError(ServiceError):
    """A dependency answered with an error or not at all; nothing was changed here."""

    status = 502


class ServiceUnavailableError(ServiceError):
    status = 503


class UnprocessableError(ServiceError):
    """Well-formed input that refers to something that does not fit (an unknown category)."""

    status = 422
