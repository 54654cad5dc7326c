"""RFC 9457 problem details for every error a client can see.

Handlers turn every exception into ``application/problem+json``. Validation errors name the
field (``errors[].field`` as a dotted path, e.g. ``body.price.amount``); unexpected exceptions
become a 500 whose body says nothing about the cause (the log has it, with the request id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from agora.platform.errors import ServiceError

# moved to .documents (the front proxy answers with them without FastAPI); still imported from here
from agora.platform.http.documents import PROBLEM_JSON as PROBLEM_JSON
from agora.platform.http.documents import problem_body as problem_body
from agora.platform.http.documents import problem_response as problem_response

TYPE_BASE = "https://agora.dev/problems/"

log = structlog.get_logger(__name__)

_Dependency = TypeVar("_Dependency", bound=Callable[..., Any])
#: where ``declares`` puts a dependency's statuses; ``platform/http/openapi.py`` reads them
DECLARED_STATUSES = "__agora_statuses__"
DECLARED_UNSAFE_STATUSES = "__agora_unsafe_statuses__"
DECLARED_CALLER = "__agora_needs_caller__"
#: a parameter's schema may carry this key (``json_schema_extra``): the statuses it answers with
PARAMETER_STATUSES = "x-agora-statuses"
#: ... and this one, that the document lists it as required although FastAPI takes it as optional
#: (so that its absence is the route's own clear answer rather than FastAPI's 422)
PARAMETER_REQUIRED = "x-agora-required"


def declares(
    *statuses: int, unsafe: Iterable[int] = (), needs_caller: bool = False
) -> Callable[[_Dependency], _Dependency]:
    """Marks a route dependency with the problem statuses it answers with.

    The OpenAPI document then declares them on every route that depends on it, however deep
    (``platform/http/openapi.py``), so a guard written once is documented everywhere it is used.
    ``unsafe`` statuses happen only on unsafe methods (the CSRF check of cookie sessions);
    ``needs_caller``: the dependency refuses anonymous callers (the route's ``security``).
    """

    def mark(dependency: _Dependency) -> _Dependency:
        setattr(dependency, DECLARED_STATUSES, frozenset(statuses))
        setattr(dependency, DECLARED_UNSAFE_STATUSES, frozenset(unsafe))
        setattr(dependency, DECLARED_CALLER, needs_caller)
        return dependency

    return mark


class ProblemError(Exception):
    """An error with an HTTP status, a short title and a detail for the client."""

    status: int = 400
    title: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        field: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or "")
        if status is not None:
            self.status = status
        self.title = title or self.title or HTTPStatus(self.status).phrase
        self.detail = detail
        self.field = field
        self.type_ = type_
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ProblemError):
    status = 400


class Unauthorized(ProblemError):
    status = 401

    def __init__(self, detail: str = "A valid bearer token is required.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="agora"'})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status = 403


class NotFound(ProblemError):
    status = 404


class Conflict(ProblemError):
    status = 409


class PreconditionFailed(ProblemError):
    status = 412


class UnsupportedMediaType(ProblemError):
    status = 415


class Unprocessable(ProblemError):
    status = 422


class ServiceUnavailable(ProblemError):
    status = 503


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def error_document(exc: ProblemError | ServiceError, instance: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, problem body, headers) for a refusal; what the handlers send and idempotency stores."""
    if isinstance(exc, ProblemError):
        extra = dict(exc.extra)
        if exc.field:
            extra["errors"] = [{"field": exc.field, "message": exc.detail or exc.title}]
        status, title, detail, type_, headers = exc.status, exc.title, exc.detail, exc.type_, exc.headers
    else:
        extra = {"errors": [{"field": exc.field, "message": exc.detail}]} if exc.field else {}
        extra.update(getattr(exc, "extra", None) or {})
        status, title, detail, type_ = exc.status, None, exc.detail, None
        headers = {"WWW-Authenticate": 'Bearer realm="agora"'} if exc.status == 401 else {}
    return status, problem_body(status, title=title, detail=detail, instance=instance, type_=type_, **extra), headers


async def _problem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return _error_response(error_document(exc, request.url.path))


def _error_response(document: tuple[int, dict[str, Any], dict[str, str]]) -> Response:
    status, body, headers = document
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            400,
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
            instance=request.url.path,
            type_=TYPE_BASE + "malformed-json",
            errors=[{"field": "body", "message": "invalid JSON"}],
        )
    items = [{"field": _field_path(error.get("loc", ())), "message": error.get("msg", "invalid")} for error in errors]
    fields = ", ".join(item["field"] for item in items[:5])
    return problem_response(
        422,
        title="Invalid request",
        detail=f"Check these fields: {fields}." if fields else "The request is invalid.",
        instance=request.url.path,
        type_=TYPE_BASE + "validation",
        errors=items,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "The request body could not be parsed (malformed or not UTF-8)."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return problem_response(exc.status_code, detail=detail, instance=request.url.path, headers=headers)


def allowed_methods(request: Request) -> str:
    """Every method some route of this path takes (RFC 9110 ``Allow``).

    Starlette's 405 names the methods of the first route whose path matched, but a path's GET and
    PATCH are two routes; this asks every route of that path template (the first match's: a
    literal ``/stock/all`` is not also ``/stock/{sku}``). HEAD goes with GET (``HeadAsGet``).
    """
    methods: set[str] = set()
    template = None
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if not route_methods or route.matches(request.scope)[0] is Match.NONE:
            continue
        template = template or getattr(route, "path", None)
        if getattr(route, "path", None) == template:
            methods.update(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return _error_response(error_document(exc, request.url.path))


#: SQLSTATEs of a server that will not take the connection right now (too many clients, starting
#: up or shutting down, connection failures): asyncpg reports these as plain DBAPIErrors.
_UNAVAILABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03", "08000", "08001", "08004", "08006"})


#: SQLSTATEs of a transaction the server rolled back so that another could go on (deadlock victim,
#: serialization failure): asyncpg reports these as plain DBAPIErrors too, the MySQL drivers as
#: OperationalError (1213). The whole request was rolled back, so the client may simply retry.
_ROLLED_BACK_SQLSTATES = frozenset({"40P01", "40001"})


def _sqlstate_in(exc: DBAPIError, states: frozenset[str]) -> bool:
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if state in states:
            return True
    return False


def _refused_connection(exc: DBAPIError) -> bool:
    return _sqlstate_in(exc, _UNAVAILABLE_SQLSTATES)


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database (or another store) is unreachable, or chose this transaction as a deadlock
    victim: a 503 the client may retry (nothing was committed), not a 500."""
    if isinstance(exc, DBAPIError):
        if _sqlstate_in(exc, _ROLLED_BACK_SQLSTATES):
            # no 500: a lock-order bug or a hot row should show in the logs, not fail a checkout
            log.warning("database_transaction_rolled_back", path=request.url.path, error=str(exc.orig)[:200])
            return _retry_shortly(request, "The database rolled this request back to let another finish")
        if (
            not isinstance(exc, OperationalError | InterfaceError)
            and not exc.connection_invalidated
            and not _refused_connection(exc)
        ):
            return await _unexpected_error(request, exc)
        cause = type(exc.orig).__name__
    else:  # a refused or reset connection (some drivers raise these unwrapped while connecting)
        cause = type(exc).__name__
    log.warning("database_unavailable", path=request.url.path, error=cause)
    return _retry_shortly(request, "A store this request needs did not answer")


async def _pool_saturated(request: Request, exc: Exception) -> Response:
    """Every pooled connection stayed busy for the pool timeout, or too many requests already wait
    for one: the process is at its share of the database's connections (see
    ``agora.platform.db.pools``). Nothing ran; the client may retry."""
    log.warning("database_pool_saturated", path=request.url.path, error=str(exc)[:200])
    return _retry_shortly(request, "Too many requests are waiting for the database")


def _retry_shortly(request: Request, why: str) -> Response:
    return problem_response(
        503,
        title="Service Unavailable",
        detail=f"{why}; nothing was changed. Try again shortly.",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled_exception", path=request.url.path, exc_info=exc)
    return problem_response(
        500,
        detail="Something went wrong on our side; the request id identifies it in our logs.",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # every pooled connection busy for pool_timeout, or the wait queue full: saturated, not broken
    app.add_exception_handler(PoolTimeoutError, _pool_saturated)
    app.add_exception_handler(ConnectionError, _database_error)
    # Redis (carts, caches, rate limits) unreachable is answered 503 by the chassis middleware:
    # redis-py is imported when a service first talks to Redis, after this (see
    # agora.platform.http.middleware.redis_unreachable)
    app.add_exception_handler(Exception, _unexpected_error)


_JSON_TYPES = ("application/json",)


@declares(415)
async def require_json(request: Request) -> None:
    """Refuse request bodies that do not declare JSON (415), for routers that only take JSON."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type:
        if request.headers.get("content-length", "0") in ("", "0"):
            return
    elif media_type in _JSON_TYPES or media_type.endswith("+json"):
        return
    raise UnsupportedMediaType(
        f"Send the body as application/json (got {media_type or 'no content type'}).",
        field="content-type",
    )
