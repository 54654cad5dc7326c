"""Clients for calling other Agora services, the same code in embedded and distributed mode.

Embedded mode hands the target's ASGI app to :func:`create_service_client`; the request then
travels through ``httpx.ASGITransport`` without a socket but still through the target's whole
middleware stack, so auth, limits, metrics and traces behave as over the network. Distributed
mode reads the target's base URL from ``settings.service_urls``.

A caller acting for someone (the web for its visitor) sends their address as ``X-Forwarded-For``,
so per-address limits (identity's login throttle) count the visitor, not the caller. In-process,
only this process's own code sends requests, so the transport believes that header; over the
network the target's server believes it from ``AGORA_TRUSTED_PROXIES`` only (see ``agora serve``).

Every call gets a timeout, a client span, client metrics, the circuit breaker of its target and,
for idempotent methods only, bounded retries; and it carries ``traceparent``, ``x-request-id``
and the caller's ``Authorization`` (or a service token) to the next hop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from http.cookiejar import Cookie, DefaultCookiePolicy
from types import TracebackType
from typing import Any, Self, cast
from urllib.request import Request as UrllibRequest

import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from agora.platform.http.resilience import (
    CircuitBreaker,
    RetryPolicy,
    retry_idempotent,
)
from agora.platform.http.tls import tls_context
from agora.platform.observability.context import authorization_var, request_id_var
from agora.platform.observability.metrics import (
    http_client_request_duration_seconds,
    http_client_requests_total,
)
from agora.platform.settings import PlatformSettings

TokenProvider = Callable[[], Awaitable[str | None]]

#: The peer address of every in-process request: the only sender the forwarding header is believed from.
IN_PROCESS_CLIENT = ("127.0.0.1", 0)


class ServiceNotConfiguredError(LookupError):
    """Distributed mode needs a URL for every service a process calls."""


class ServiceClient:
    """An ``httpx.AsyncClient`` for one target service, with the chassis's policies around it."""

    def __init__(
        self,
        target: str,
        http: httpx.AsyncClient,
        *,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        token_provider: TokenProvider | None = None,
    ) -> None:
        self.target = target
        self.http = http
        self.breaker = breaker
        self.retry = retry
        self._token_provider = token_provider
        self._tracer = trace.get_tracer("agora.http.client")

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        as_service: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; ``kwargs`` are ``httpx.AsyncClient.request``'s (json, params, content...).

        ``as_service``: authenticate as this service (its service token) instead of forwarding the
        caller's token, for internal routes and for work that outlives a request (saga recovery).

        Raises :class:`~agora.platform.http.resilience.CircuitOpenError` while the target's breaker
        is open, and httpx's transport errors when every attempt failed to get a response.
        """
        method = method.upper()
        outgoing = {key.lower(): value for key, value in headers.items()} if headers else {}
        request_id = request_id_var.get()
        if request_id is not None:
            outgoing.setdefault("x-request-id", request_id)
        if as_service:
            if self._token_provider is None:
                raise ServiceNotConfiguredError(f"no service token provider for calls to {self.target!r}")
            outgoing["authorization"] = f"Bearer {await self._token_provider()}"
        elif outgoing.get("authorization") == "":
            del outgoing["authorization"]  # explicitly anonymous
        elif "authorization" not in outgoing:
            authorization = authorization_var.get()
            if authorization is not None:
                outgoing["authorization"] = authorization

        async def attempt() -> httpx.Response:
            return await self._send_once(method, url, outgoing, kwargs)

        return await retry_idempotent(method, attempt, policy=self.retry)

    async def _send_once(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Response:
        self.breaker.acquire()
        start = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"{method} {self.target}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "server.address": self.target, "url.path": url},
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            attempt_headers = dict(headers)
            propagate.inject(attempt_headers)  # the client span is the callee's parent
            try:
                response = await self.http.request(method, url, headers=attempt_headers, **kwargs)
            except Exception:
                self.breaker.record_failure()
                self._observe(method, "error", start)
                raise
            except BaseException:
                self.breaker.release()  # cancelled: no verdict on the target's health
                raise
            self._observe(method, str(response.status_code), start)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            return response

    def _observe(self, method: str, status: str, start: float) -> None:
        http_client_requests_total.labels(self.target, method, status).inc()
        http_client_request_duration_seconds.labels(self.target, method).observe(time.perf_counter() - start)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _NoCookies(DefaultCookiePolicy):
    """Refuses every cookie: services are called for many callers through one client."""

    def set_ok(self, cookie: Cookie, request: UrllibRequest) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: UrllibRequest) -> bool:
        return False


_KEEP_NO_COOKIES = _NoCookies()


def create_service_client(
    target: str,
    *,
    settings: PlatformSettings,
    app: ASGIApp | None = None,
    token_provider: TokenProvider | None = None,
    breaker: CircuitBreaker | None = None,
    retry: RetryPolicy | None = None,
) -> ServiceClient:
    """A client for ``target``: in-process through ``app`` when given, else over HTTP.

    ``breaker`` and ``retry`` default to the chassis policy (5 failures open the circuit for 30 s;
    3 attempts with full-jitter backoff from 100 ms); tests pass their own with fake clocks.
    """
    timeout = httpx.Timeout(settings.http_timeout)
    if app is not None:
        # raise_app_exceptions=False: an unhandled error in the target becomes the 500 a real
        # network call would see, instead of an exception leaking across the service boundary.
        # Requests on this transport come from this process's own code, never from the network,
        # so the caller's X-Forwarded-For (the visitor's address) becomes the scope's client.
        # (uvicorn types ASGI apps more narrowly than Starlette; it is the same protocol)
        forwarded = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=IN_PROCESS_CLIENT[0]))
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(
            app=forwarded, raise_app_exceptions=False, client=IN_PROCESS_CLIENT
        )
        base_url = f"http://{target}.internal"
    else:
        try:
            base_url = settings.service_urls[target]
        except KeyError:
            raise ServiceNotConfiguredError(
                f"no URL configured for service {target!r}: set AGORA_SERVICE_URLS__{target.upper()}"
                f"=http://host:port, or pass the app to call it in-process"
            ) from None
        transport = httpx.AsyncHTTPTransport(verify=tls_context(base_url))
    http = httpx.AsyncClient(transport=transport, base_url=base_url, timeout=timeout)
    # one client serves every caller of this process: a cookie one response sets (a session, a
    # cart id) must never ride along on another caller's request, so the jar keeps nothing
    http.cookies.jar.set_policy(_KEEP_NO_COOKIES)
    return ServiceClient(
        target,
        http,
        breaker=breaker or CircuitBreaker(target),
        retry=retry or RetryPolicy(),
        token_provider=token_provider,
    )


__all__ = [
    "IN_PROCESS_CLIENT",
    "ServiceClient",
    "ServiceNotConfiguredError",
    "TokenProvider",
    "create_service_client",
]
