"""Access-token verification from a JWKS, in every service.

Defences, each against a known JWT attack: a fixed algorithm allow-list (no ``none``, no HS*
with a public key as secret), the key chosen only by ``kid`` from our own JWKS (``jku``/``x5u``/
embedded ``jwk`` headers are never followed), ``iss``/``aud``/``exp``/``nbf``/``iat`` required and
checked with a bounded clock skew, and ``typ`` must say access token (a refresh or ID token is
refused). Unknown ``kid`` triggers one JWKS refresh, rate-limited so forged kids cannot make us
hammer identity.

A valid signature is not the end: a token of an ended session or a disabled user is refused too,
from the process's :class:`~agora.platform.auth.revocations.RevocationList` (in memory, kept
current by identity's events and a periodic sync; no network call per request).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import orjson
import structlog
from jwt.algorithms import ECAlgorithm

from agora.platform.auth.keys import ACCESS_TOKEN_TYPE
from agora.platform.auth.revocations import RevocationList

ALLOWED_ALGORITHMS = ("ES256",)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti")

log = structlog.get_logger(__name__)

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


class InvalidToken(Exception):
    """The token is not acceptable; the message is safe to log, never shown in detail to clients."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is calling: a user (``sub`` is the user id) or a service (``roles`` has ``service``)."""

    id: str
    roles: frozenset[str]
    token_id: str
    claims: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def jwks_from_file(path: Path) -> JwksFetcher:
    async def fetch() -> dict[str, Any]:
        document: dict[str, Any] = orjson.loads(await asyncio.to_thread(path.read_bytes))
        return document

    return fetch


#: Verified tokens kept in memory per process (a token is ~600 bytes: ~6 MB at most).
VERIFIED_CACHE_SIZE = 10_000
MAX_CACHED_TOKEN_LENGTH = 4096


class TokenVerifier:
    def __init__(
        self,
        fetch_jwks: JwksFetcher | None,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
        min_refresh_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        revocations: RevocationList | None = None,
    ) -> None:
        self._fetch = fetch_jwks
        self.revocations = revocations if revocations is not None else RevocationList()
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._min_refresh = min_refresh_interval
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        # token -> (subject, expiry): the same token is presented again and again (a browser's
        # every request, a service token on every internal call); checking its signature once is
        # enough until it expires. Bounded; oldest entries go first.
        self._verified: OrderedDict[str, tuple[Subject, float]] = OrderedDict()

    async def _refresh(self, *, force: bool) -> None:
        if self._fetch is None:
            return
        async with self._lock:
            now = self._clock()
            if not force and self._keys:
                return
            if now - self._fetched_at < self._min_refresh and self._keys:
                return
            self._fetched_at = now
            try:
                document = await self._fetch()
            except Exception as exc:  # identity down: keep the keys we have
                log.warning("jwks_fetch_failed", error=str(exc))
                return
            keys: dict[str, Any] = {}
            for jwk in document.get("keys", []):
                if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "kid" not in jwk:
                    continue
                keys[jwk["kid"]] = ECAlgorithm.from_jwk(jwk)
            if keys:
                self._keys = keys

    async def _key_for(self, kid: str) -> Any:
        if kid not in self._keys:
            await self._refresh(force=bool(self._keys))
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown key id")
        return key

    async def verify(self, token: str) -> Subject:
        subject = await self._verified_subject(token)
        if self.revocations.refuses(subject.claims):
            raise InvalidToken("session ended or user disabled")
        return subject

    async def _verified_subject(self, token: str) -> Subject:
        cached = self._verified.get(token)
        if cached is not None:
            subject, expires = cached
            if self._clock() < expires:
                return subject
            del self._verified[token]
        subject = await self._verify(token)
        self._remember(token, subject)
        return subject

    def _remember(self, token: str, subject: Subject) -> None:
        expires = subject.claims.get("exp")
        if not isinstance(expires, int | float) or len(token) > MAX_CACHED_TOKEN_LENGTH:
            return
        self._verified[token] = (subject, float(expires) + self._leeway)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)

    async def _verify(self, token: str) -> Subject:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 128:
            raise InvalidToken("missing key id")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_nbf": True, "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if claims.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise InvalidToken("malformed roles")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("malformed subject")
        return Subject(id=subject, roles=frozenset(roles), token_id=str(claims["jti"]), claims=claims)
