"""Ended sessions and disabled users, known to every service's token verifier within seconds.

An access token is a signed JWT that any service verifies alone, so by itself it stays good until
it expires (10 minutes) however the session ends. Each process therefore keeps a
:class:`RevocationList`: the session ids (the ``sid`` claim, one per login) that were revoked and
the users cut off at a time (disabled), each kept only until every token it covers has expired.
The verifier consults it on every request: two dict look-ups, no network.

The list is fed two ways (docs/architecture.md, "Sessions end everywhere"):

* **events**: identity writes ``identity.session.revoked`` / ``identity.user.disabled`` to its
  outbox in the transaction that ends the session; every service subscribes to the ``identity``
  topic with a group of its own (:func:`subscribe_revocations`), so each service hears each event
  within the relay's latency. No inbox: applying a revocation twice changes nothing.
* **replicas**: with ``AGORA_REDIS_URL`` set, the replica that took an event hands it to its
  siblings through Redis pub/sub (:mod:`agora.platform.auth.replicas`), within milliseconds.
* **sync**: every ``AGORA_REVOCATION_SYNC_SECONDS`` (and at start-up, when the list is empty) the
  process asks identity for every revocation still in force (:class:`RevocationSync`). That
  covers what events cannot: a replica of a service whose sibling took the event (replicas share
  a consumer group), a process that started after the event, an event lost on the way. The
  services of one process (embedded mode runs fifteen) share that sync (:func:`shared_sync`):
  one fetch per interval, merged into each service's list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from agora.platform.messaging.envelope import Envelope
from agora.platform.messaging.transports.base import Handler, Subscription, Transport
from agora.platform.tasks import PeriodicTask

log = structlog.get_logger(__name__)

TOPIC = "identity"
SESSION_REVOKED = "identity.session.revoked"
"""A session ended (logout, a stolen refresh token came back): every token with its ``sid`` dies."""
USER_DISABLED = "identity.user.disabled"
"""An admin disabled a user: every token of theirs issued before ``not_before`` dies."""
REVOCATIONS_PATH = "/api/identity/internal/revocations"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SessionRevoked(_Payload):
    event_type: ClassVar[str] = SESSION_REVOKED
    """Its type in the outbox (``Outbox.add(session, SessionRevoked(...))``)."""

    session_id: str
    user_id: str
    revoked_at: datetime
    expires_at: datetime
    """When the last access token of the session expires: the entry is kept until then."""


class UserDisabled(_Payload):
    event_type: ClassVar[str] = USER_DISABLED

    user_id: str
    not_before: datetime
    expires_at: datetime


class Revocations(_Payload):
    # the schema's OpenAPI description: assigned, not a docstring, so that python -OO keeps it
    __doc__ = """What identity's revocation endpoint answers: every entry still in force."""

    sessions: list[SessionRevoked]
    users: list[UserDisabled]


RevocationFetcher = Callable[[], Awaitable[Revocations]]


class RevocationList:
    """The process's revoked sessions and cut-off users, pruned as their tokens expire."""

    def __init__(self) -> None:
        self._sessions: dict[str, float] = {}  # sid -> when its last token expires
        self._users: dict[str, tuple[float, float]] = {}  # user id -> (not before, expires)
        self.synced = False

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)

    def refuses(self, claims: dict[str, Any]) -> bool:
        """Whether a verified token's claims belong to an ended session or a cut-off user.

        An entry past its expiry can stay until the next prune: it refuses nothing that is still
        valid (a revoked session gets no new tokens; a cut-off spares tokens issued after it).
        """
        sid = claims.get("sid")
        if sid is not None and sid in self._sessions:
            return True
        cut_off = self._users.get(claims.get("sub", ""))
        if cut_off is None:
            return False
        issued = claims.get("iat")
        return not isinstance(issued, int | float) or issued < cut_off[0]

    def revoke_session(self, entry: SessionRevoked) -> None:
        self._sessions[entry.session_id] = entry.expires_at.timestamp()

    def disable_user(self, entry: UserDisabled) -> None:
        known = self._users.get(entry.user_id)
        not_before, expires = entry.not_before.timestamp(), entry.expires_at.timestamp()
        if known is not None:  # the later cut-off covers the earlier one
            not_before, expires = max(known[0], not_before), max(known[1], expires)
        self._users[entry.user_id] = (not_before, expires)

    def merge(self, revocations: Revocations) -> None:
        for session in revocations.sessions:
            self.revoke_session(session)
        for user in revocations.users:
            self.disable_user(user)
        self.synced = True

    def prune(self, now: float) -> None:
        """Drops the entries whose tokens have all expired (memory stays bounded)."""
        self._sessions = {sid: expires for sid, expires in self._sessions.items() if expires > now}
        self._users = {user: entry for user, entry in self._users.items() if entry[1] > now}

    async def apply(self, envelope: Envelope) -> None:
        """The event handler: other ``identity`` events are not ours and are ignored."""
        self.apply_event(envelope.type, envelope.data)

    def apply_event(self, event_type: str, data: dict[str, Any]) -> None:
        try:
            if event_type == SESSION_REVOKED:
                self.revoke_session(SessionRevoked.model_validate(data))
            elif event_type == USER_DISABLED:
                self.disable_user(UserDisabled.model_validate(data))
        except ValidationError:
            # a malformed event can never apply; the sync still brings the truth from identity
            log.warning("revocation_event_malformed", type=event_type)


def is_revocation(event_type: str) -> bool:
    return event_type in (SESSION_REVOKED, USER_DISABLED)


async def subscribe_revocations(transport: Transport, service: str, handler: Handler) -> Subscription:
    """Each service hears identity's revocation events (one group per service: one replica each)."""
    return await transport.subscribe(TOPIC, f"{service}.revocations", handler)


class RevocationSync:
    """One run of the fallback: fetch what identity holds in force, merge it, prune."""

    def __init__(self, revocations: RevocationList, fetch: RevocationFetcher, clock: Callable[[], float]) -> None:
        self._revocations = revocations
        self._fetch = fetch
        self._clock = clock

    async def __call__(self) -> None:
        self._revocations.prune(self._clock())  # also while identity is away: events keep adding
        try:
            fetched = await self._fetch()
        except Exception as exc:  # identity away (or not started yet): events still arrive, retry next run
            log.warning("revocation_sync_failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        self._revocations.merge(fetched)


class SharedSync:
    """One :class:`RevocationSync` for every revocation list of a process that asks one identity.

    Embedded mode runs fifteen services in one process, each with its own list: each asked
    identity for the same answer every ``AGORA_REVOCATION_SYNC_SECONDS``, a request through
    identity's whole stack and a query each time, the largest share of an idle ``agora up``'s
    CPU. The lists that join one :class:`SharedSync` are synced together by one periodic fetch,
    still every interval; one that joins later gets the last answer at once if it is younger
    than an interval (alone, its first sync would have run at once). The fetch of the earliest
    member still joined is used: they all ask the same identity.
    """

    def __init__(self, name: str, interval: float, clock: Callable[[], float]) -> None:
        self.name = name
        self.interval = interval
        self._clock = clock
        self._members: dict[RevocationList, RevocationFetcher] = {}
        self._task: PeriodicTask | None = None
        self._last: tuple[float, Revocations] | None = None
        self._running = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._members)

    def join(self, revocations: RevocationList, fetch: RevocationFetcher) -> None:
        self._members[revocations] = fetch
        if self._last is not None and self._clock() - self._last[0] < self.interval:
            revocations.merge(self._last[1])
        if self._task is None:
            self._task = PeriodicTask(self.name, self.interval, self.run)
            self._task.start()

    async def leave(self, revocations: RevocationList) -> None:
        self._members.pop(revocations, None)
        async with self._running:  # a run may be using its fetch (its service's database): it ends first
            pass
        if not self._members and self._task is not None:
            task, self._task = self._task, None
            await task.stop()

    async def run(self) -> None:
        async with self._running:
            await self._run()

    async def _run(self) -> None:
        members = list(self._members.items())
        if not members:
            return
        fetched_at = self._clock()
        for revocations, _ in members:
            revocations.prune(fetched_at)  # also while identity is away: events keep adding
        try:
            fetched = await members[0][1]()
        except Exception as exc:  # identity away (or not started yet): events still arrive, retry next run
            log.warning("revocation_sync_failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        self._last = (fetched_at, fetched)
        for revocations, _ in members:
            revocations.merge(fetched)


#: the shared syncs of this process, by what their members have in common (see shared_sync)
_SHARED: dict[int, tuple[object, SharedSync]] = {}


def shared_sync(key: object, name: str, interval: float, clock: Callable[[], float]) -> SharedSync:
    """The :class:`SharedSync` of the services that pass the same ``key`` (the platform settings
    they run with, one object per process or embedded app), made when the first one asks."""
    found = _SHARED.get(id(key))
    if found is None or found[0] is not key:
        found = (key, SharedSync(name, interval, clock))  # holds ``key``: its id stays unique
        _SHARED[id(key)] = found
    return found[1]


async def leave_shared_sync(key: object, revocations: RevocationList) -> None:
    """``revocations`` leaves the shared sync of ``key`` (its service stops); the last one out
    stops it."""
    found = _SHARED.get(id(key))
    if found is None or found[0] is not key:
        return
    await found[1].leave(revocations)
    if not len(found[1]):
        del _SHARED[id(key)]


__all__ = [
    "REVOCATIONS_PATH",
    "SESSION_REVOKED",
    "TOPIC",
    "USER_DISABLED",
    "RevocationFetcher",
    "RevocationList",
    "RevocationSync",
    "Revocations",
    "SessionRevoked",
    "SharedSync",
    "UserDisabled",
    "is_revocation",
    "leave_shared_sync",
    "shared_sync",
    "subscribe_revocations",
]
