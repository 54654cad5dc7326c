"""Calls between services, as ports: the adapter per mode, and what a direct call needs.

A service calls another through a port (a Protocol in :mod:`agora.contracts.ports`, typed with
the contract models). :func:`port_of` picks the adapter once, at start-up:

* distributed mode (or ``AGORA_DIRECT_CALLS=false``): the HTTP adapter over the target's
  :class:`~agora.platform.http.clients.ServiceClient` (timeouts, retries, the circuit breaker,
  service tokens);
* embedded mode: the callee's *direct* adapter (``ServiceSpec.port``), which runs the callee's
  application layer in this process with the callee's own objects (:class:`Peer`): its sessions
  and transaction (:func:`transaction`: commit, then the outbox relay woken, then the
  ``after_commit`` callbacks, as the callee's ``Session`` dependency does), the same role check
  its route applies (:meth:`Caller.require`), the same :class:`~agora.platform.errors.ServiceError`
  subclasses; no JSON, no middleware.

What a failed call means is the same in both modes (the saga decides on it whether money may
have moved): :class:`PeerUnavailable` - it certainly had no effect (nothing sent, the target not
running, a 5xx or an unexpected error, which rolls the target's transaction back);
:class:`PeerOutcomeUnknown` - it may have been handled (a timeout after sending; only the HTTP
adapter can see one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db.session import unit_of_work
from agora.platform.errors import (
    BadGatewayError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    PreconditionFailedError,
    ServiceError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnprocessableError,
)
from agora.platform.http.problems import ProblemError

if TYPE_CHECKING:
    from agora.platform.auth.verifier import Subject
    from agora.platform.http.clients import ServiceClient
    from agora.platform.service import ServiceContext, ServiceSpec

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("agora.peers")

T = TypeVar("T")
P = TypeVar("P")
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

#: Whether the direct call running in this task has committed its effect (see :func:`committed`).
_committed: ContextVar[bool] = ContextVar("agora_peer_committed", default=False)

#: The token id of an in-process caller's subject (no token exists: the process is the caller).
IN_PROCESS = "in-process"


class PeerUnavailable(ServiceUnavailableError):
    """The call certainly had no effect: not sent, refused, the target not running, or a 5xx."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service}: {detail}" if detail else service)
        self.service = service


class PeerOutcomeUnknown(BadGatewayError):
    """The request may or may not have taken effect (it was sent, then the answer never came)."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service}: {detail}" if detail else service)
        self.service = service


_ERRORS: dict[int, type[ServiceError]] = {
    401: UnauthorizedError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: UnprocessableError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
}


def error_for(
    status: int, detail: str, field: str | None = None, extra: Mapping[str, Any] | None = None
) -> ServiceError:
    """The :class:`ServiceError` subclass a refusal of ``status`` is, whoever raised or answered it
    (an HTTP problem document, a route's ``ProblemError``): a caller sees one kind of error."""
    error_class = _ERRORS.get(status, ServiceError)
    error = error_class(detail, field=field, **(extra or {}))
    if error_class is ServiceError:
        error.status = status
    return error


@dataclass(frozen=True)
class Caller:
    """Who a port's calls are made as: the calling service (its service token over HTTP) or an
    anonymous visitor (an empty ``Authorization``: the cart prices what any visitor may buy)."""

    service: str
    as_service: bool = True

    @property
    def subject(self) -> Subject | None:
        """The principal the callee's route would have verified from the token."""
        from agora.platform.auth.service_tokens import SERVICE_ROLE
        from agora.platform.auth.verifier import Subject

        if not self.as_service:
            return None
        return Subject(id=f"service:{self.service}", roles=frozenset({SERVICE_ROLE}), token_id=IN_PROCESS)

    def require(self, *roles: str) -> Subject:
        """The route guard ``require_role(*roles)``: 401 with no identity, 403 without the role."""
        subject = self.subject
        if subject is None:
            raise UnauthorizedError("A valid bearer token is required.")
        if not subject.has_role(*roles):
            raise ForbiddenError(f"This needs the {' or '.join(roles)} role.")
        return subject


class Peers:
    """The services running in this process (embedded mode), for direct calls between them."""

    def __init__(self, specs: Mapping[str, ServiceSpec], contexts: Mapping[str, ServiceContext]) -> None:
        self._specs = specs
        self._contexts = contexts

    def spec(self, name: str) -> ServiceSpec | None:
        return self._specs.get(name)

    def context(self, name: str) -> ServiceContext:
        """The running service's context; :class:`PeerUnavailable` while it is not started."""
        context = self._contexts.get(name)
        if context is None:
            raise PeerUnavailable(name, "not running in this process")
        return context


class Peer:
    """One running callee as its direct adapter sees it: its context (looked up per call, so a
    caller may be built before the callee has started) and who calls it."""

    def __init__(self, peers: Peers, name: str, caller: Caller) -> None:
        self.name = name
        self.caller = caller
        self._peers = peers

    @property
    def context(self) -> ServiceContext:
        return self._peers.context(self.name)

    async def call(self, operation: str, work: Callable[[ServiceContext], Awaitable[T]]) -> T:
        """Runs ``work`` with the callee's context under a client span.

        A :class:`ServiceError` passes unchanged (the callee's refusal, as its route would have
        answered it); anything else is what HTTP would have seen as a 500: before a commit (its
        transaction rolled back) :class:`PeerUnavailable`, after one :class:`PeerOutcomeUnknown`
        (the effect is stored; the answer was lost), which HTTP could not tell apart.
        """
        token = _committed.set(False)
        try:
            return await self._traced(operation, work)
        finally:
            _committed.reset(token)

    async def _traced(self, operation: str, work: Callable[[ServiceContext], Awaitable[T]]) -> T:
        with tracer.start_as_current_span(
            f"{operation} {self.name}",
            kind=SpanKind.CLIENT,
            attributes={"rpc.system": "in-process", "server.address": self.name, "rpc.method": operation},
        ) as span:
            try:
                return await work(self.context)
            except ServiceError as exc:
                if exc.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                raise
            except ProblemError as exc:  # a route guard's or helper's refusal: the same, as a ServiceError
                if exc.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                raise error_for(exc.status, exc.detail or exc.title or "", exc.field, exc.extra) from exc
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR))
                log.exception("direct_call_failed", service=self.name, operation=operation)
                if _committed.get():
                    raise PeerOutcomeUnknown(self.name, f"{type(exc).__name__} after its commit") from exc
                raise PeerUnavailable(self.name, type(exc).__name__) from exc


ServiceClientSource = Callable[[str], "ServiceClient"]
"""``context.clients``: the HTTP adapters' way to the target's :class:`ServiceClient`."""


def runtime_in(context: ServiceContext, cls: type[R]) -> R:
    """The callee's runtime (what its ``spec.start`` built), checked to be a ``cls``."""
    runtime = context.runtime
    if not isinstance(runtime, cls):
        raise TypeError(f"{context.name}'s runtime is a {type(runtime).__name__}, not a {cls.__name__}")
    return runtime


def invalid(exc: ValidationError, where: str) -> UnprocessableError:
    """A validation failure as the route's 422 names it (``body.address.country``, ``query.to``)."""
    fields = [".".join((where, *(str(part) for part in error["loc"]))) for error in exc.errors()]
    return UnprocessableError(f"Check these fields: {', '.join(fields[:5])}.", field=fields[0] if fields else where)


def parsed(model: type[M], data: BaseModel, where: str = "body") -> M:
    """``data`` (a contract model) as the callee's own request model, validated as its route
    validates a body: the same rules, a 422 naming the same field (no JSON in between)."""
    try:
        return model.model_validate(data.model_dump(exclude_none=True, by_alias=True))
    except ValidationError as exc:
        raise invalid(exc, where) from None


def checked(adapter: TypeAdapter[T], value: object, field: str) -> T:
    """A path or query value validated as the route's parameter (``field``: ``path.user_id``)."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise UnprocessableError(f"Check these fields: {field}.", field=field) from exc


class DirectFactory(Protocol):
    def __call__(self, peer: Peer) -> object: ...


def port_of(
    context: ServiceContext,
    target: str,
    protocol: type[object],
    http: Callable[[ServiceClientSource, Caller], P],
    *,
    as_service: bool = True,
) -> P:
    """The port ``context``'s service calls ``target`` through: the one place the adapter is chosen.

    Embedded with ``direct_calls`` (the default) and a target that offers a direct adapter: that
    adapter; otherwise ``http(clients, caller)``. ``protocol`` must be ``runtime_checkable``: the
    direct adapter is checked against it once, here.
    """
    caller = Caller(context.name, as_service=as_service)
    peers = context.peers
    if peers is not None and context.platform.direct_calls:
        spec = peers.spec(target)
        if spec is not None and spec.port is not None:
            adapter = spec.port(Peer(peers, target, caller))
            if not isinstance(adapter, protocol):
                raise TypeError(f"{target}'s direct adapter is not a {protocol.__name__}")
            return cast(P, adapter)  # checked against the port's Protocol just above
    return http(context.clients, caller)


@asynccontextmanager
async def transaction(context: ServiceContext) -> AsyncIterator[AsyncSession]:
    """A write in the callee's own transaction, as its ``Session`` dependency runs one: committed
    when the block ends (rolled back when it raises), then the relay woken and the
    ``after_commit`` callbacks run (:func:`agora.platform.db.unit_of_work` with the context).
    The commit is noted for :meth:`Peer.call` (see :func:`committed`)."""
    async with unit_of_work(context) as session:
        yield session
    committed()


def committed() -> None:
    """Notes that the current direct call's effect is committed: an unexpected error after this
    point is :class:`PeerOutcomeUnknown`, not "no effect" (:func:`transaction` calls it; an
    adapter that commits otherwise, e.g. through the idempotency store, calls it itself)."""
    _committed.set(True)


@asynccontextmanager
async def reading(context: ServiceContext) -> AsyncIterator[AsyncSession]:
    """A read in the callee's autocommit read session (no transaction to commit)."""
    async with context.read_sessions() as session:
        yield session


__all__ = [
    "Caller",
    "DirectFactory",
    "Peer",
    "PeerOutcomeUnknown",
    "PeerUnavailable",
    "Peers",
    "ServiceClientSource",
    "checked",
    "committed",
    "error_for",
    "invalid",
    "parsed",
    "port_of",
    "reading",
    "runtime_in",
    "transaction",
]
