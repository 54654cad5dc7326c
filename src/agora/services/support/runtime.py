"""Support's composition root: ``start`` builds its runtime once, at start-up, and closes it.

What one running support service holds besides its database: the real-time fan-out (and the
Redis client behind it when ``AGORA_REDIS_URL`` is set), the per-user message rate limiter, the
cap on open sockets and the after-commit pushes. The fan-out and the limiter's storage are built
on first use (:class:`~agora.platform.first_use.OnFirstUse`): with Redis they import redis-py
(~7 MiB), which a replica that has carried no conversation yet does without.

Pushes leave only after the change committed, in the order they were committed by this process
(each publication waits for the one before it), on these topics of the fan-out:

* ``conversation:<id>``: ``message``, ``read`` and ``closed`` frames of that conversation;
* ``inbox``: an ``inbox`` frame with the conversation (and its unread counts) after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import Depends

from agora.contracts.support import FRAME_CLOSED, FRAME_INBOX, FRAME_MESSAGE, FRAME_READ, INBOX
from agora.platform.connections import ConnectionLimiter
from agora.platform.fanout import LocalFanout, create_fanout
from agora.platform.first_use import OnFirstUse, redis_for
from agora.platform.http.deps import runtime_of
from agora.platform.messaging import Outbox
from agora.platform.peers import runtime_in
from agora.platform.ratelimit import RateLimited, UserRateLimit, limits_storage_url
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.platform.tasks import BackgroundWork
from agora.services.support.metrics import messages_total, rate_limited_total
from agora.services.support.service import Posted
from agora.services.support.settings import SupportSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported with the first client (redis_for), not at start-up

log = structlog.get_logger(__name__)


def conversation_topic(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


class MessageRateLimit:
    """At most ``rate`` messages per user in a moving window of ``window`` seconds (the chassis's
    limit, its storage opened by the first message)."""

    def __init__(self, url: str, *, rate: int, window: int, key_prefix: str) -> None:
        self._limit = OnFirstUse(
            lambda: UserRateLimit(url, rate=rate, window=window, namespace="support-messages", key_prefix=key_prefix)
        )

    async def hit(self, user_id: str) -> None:
        """Takes one slot of ``user_id``; :class:`RateLimited` when none is left, 503 when the store is down."""
        retry_after = await self._limit.get().hit(
            user_id, unavailable="Sending messages is unavailable for a moment; try again shortly."
        )
        if retry_after is not None:
            rate_limited_total.inc()
            raise RateLimited(f"Too many messages; wait {retry_after} s.", retry_after)


@dataclass(frozen=True)
class Live:
    """The fan-out, on its own Redis client when the platform has a Redis."""

    fanout: LocalFanout
    redis: Redis | None

    async def close(self) -> None:
        await self.fanout.close()
        if self.redis is not None:
            await self.redis.aclose()


def build_live(settings: SupportSettings, platform: PlatformSettings) -> Live:
    redis = redis_for(platform)
    fanout = create_fanout(
        redis, channel=f"{settings.redis_prefix}fanout", queue_size=settings.socket_queue_size, name="support"
    )
    return Live(fanout, redis)


class Pushes:
    """Publishes frames after their commit, in commit order, in the background."""

    def __init__(self, live: OnFirstUse[Live]) -> None:
        self.live = live
        self.background = BackgroundWork()
        self._last: asyncio.Task[None] | None = None

    def later(self, frames: list[tuple[str, dict[str, Any]]]) -> None:
        """Publishes ``(topic, frame)`` pairs in the background, after everything published before."""
        previous = self._last

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(previous)
            for topic, frame in frames:
                try:
                    await self.live.get().fanout.publish(topic, frame)
                except Exception:  # Redis away: the history is the record, sockets catch up on reload
                    log.warning("support_push_failed", topic=topic, exc_info=True)

        self._last = self.background.spawn(run())

    def posted(self, posted: Posted) -> None:
        """After the commit of a message: count it and push it to the conversation and the inbox."""
        messages_total.labels(posted.message["author_role"]).inc()
        conversation = posted.conversation
        self.later(
            [
                (
                    conversation_topic(conversation["id"]),
                    {"type": FRAME_MESSAGE, "message": posted.message, "conversation": conversation},
                ),
                (INBOX, {"type": FRAME_INBOX, "conversation": conversation}),
            ]
        )

    def read(self, conversation: dict[str, Any], side: str) -> None:
        read_seq = conversation["message_count"]
        frame = {
            "type": FRAME_READ,
            "conversation_id": conversation["id"],
            "side": side,
            "read_seq": read_seq,
            "conversation": conversation,
        }
        inbox = {"type": FRAME_INBOX, "conversation": conversation}
        self.later([(conversation_topic(conversation["id"]), frame), (INBOX, inbox)])

    def opened(self, conversation: dict[str, Any]) -> None:
        self.later([(INBOX, {"type": FRAME_INBOX, "conversation": conversation})])

    def closed(self, conversation: dict[str, Any]) -> None:
        self.later(
            [
                (conversation_topic(conversation["id"]), {"type": FRAME_CLOSED, "conversation": conversation}),
                (INBOX, {"type": FRAME_INBOX, "conversation": conversation}),
            ]
        )


@dataclass(frozen=True)
class SupportRuntime:
    settings: SupportSettings
    outbox: Outbox
    live: OnFirstUse[Live]
    """The fan-out (and its Redis client), built by the first subscription or push."""
    rate_limit: MessageRateLimit
    sockets: ConnectionLimiter
    """Open sockets of this process, per user and in all."""
    pushes: Pushes

    @property
    def fanout(self) -> LocalFanout:
        return self.live.get().fanout

    async def settled(self) -> None:
        """Returns once the after-commit pushes so far have run (tests, graceful shutdown)."""
        await self.pushes.background.settled()


@asynccontextmanager
async def start(context: ServiceContext) -> AsyncIterator[SupportRuntime]:
    settings = context.settings_as(SupportSettings)
    platform = context.platform
    live = OnFirstUse(lambda: build_live(settings, platform), Live.close)
    runtime = SupportRuntime(
        settings=settings,
        outbox=context.outbox,
        live=live,
        rate_limit=MessageRateLimit(
            limits_storage_url(settings.rate_limit_storage_url, platform.redis_url),
            rate=settings.message_rate,
            window=settings.message_rate_window_seconds,
            key_prefix=f"{settings.redis_prefix}rate",
        ),
        sockets=ConnectionLimiter(settings.socket_max_per_user, settings.socket_max_total),
        pushes=Pushes(live),
    )
    try:
        yield runtime
    finally:
        await runtime.pushes.background.cancel()
        await live.close()


def support_runtime(context: ServiceContext) -> SupportRuntime:
    """The runtime ``start`` built, for code that holds the context (tests)."""
    return runtime_in(context, SupportRuntime)


Runtime = Annotated[SupportRuntime, Depends(runtime_of(SupportRuntime))]
"""Support's runtime, for its endpoints and its socket."""
