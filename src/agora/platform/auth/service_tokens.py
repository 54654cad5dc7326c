"""Service tokens: how one service proves itself to another when no user's token is at hand.

Identity mints them (``POST /api/identity/service-tokens`` with the shared ``AGORA_SERVICE_SECRET``):
ordinary ES256 access tokens with ``sub=service:<name>`` and the role ``service``, so every service
verifies them with the JWKS it already has. The provider keeps one until a minute before it
expires and fetches a new one once for all concurrent callers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from agora.platform.http.clients import ServiceClient
    from agora.platform.settings import PlatformSettings

SERVICE_TOKENS_PATH = "/api/identity/service-tokens"
SERVICE_ROLE = "service"
#: A token is renewed this many seconds before it expires, so one never dies in flight.
RENEW_MARGIN_SECONDS = 60.0


class ServiceTokenError(RuntimeError):
    """Identity refused or could not be reached; the call that needed the token cannot be made."""


class ServiceTokenProvider:
    def __init__(
        self,
        service: str,
        platform: PlatformSettings,
        identity: Callable[[], ServiceClient],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._platform = platform
        self._identity = identity
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:  # single flight: concurrent callers wait for one fetch
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            token, expires_in = await self._fetch()
            self._token = token
            self._renew_at = self._clock() + max(expires_in - RENEW_MARGIN_SECONDS, expires_in / 2)
            return token

    async def _fetch(self) -> tuple[str, float]:
        body = {"service": self._service, "secret": self._platform.service_secret.get_secret_value()}
        # an explicit empty Authorization keeps a caller's user token off this call
        response = await self._identity().post(SERVICE_TOKENS_PATH, json=body, headers={"authorization": ""})
        if response.status_code != 200:
            raise ServiceTokenError(f"identity refused a service token for {self._service}: {response.status_code}")
        document = orjson.loads(response.content)
        return str(document["access_token"]), float(document["expires_in"])


__all__ = ["SERVICE_ROLE", "ServiceTokenError", "ServiceTokenProvider"]
