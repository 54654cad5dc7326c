"""The one error type a service's business rules raise (no web framework in sight).

``service.py`` modules raise subclasses with a ``status``; the chassis turns any of them into an
RFC 9457 problem naming the field, so endpoints need no translation layer of their own.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A rule refused the request: ``status`` is its HTTP status, ``field`` the input at fault."""

    status: int = 400
    field: str | None = None

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if field is not None:
            self.field = field


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    """The request contradicts what is stored (a duplicate, a concurrent change)."""

    status = 409


class PreconditionFailedError(ServiceError):
    status = 412


class UnprocessableError(ServiceError):
    """Well-formed input that refers to something that does not fit (an unknown category)."""

    status = 422
