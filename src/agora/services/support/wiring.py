"""What one running support service holds besides its database: the real-time fan-out, the
per-user message rate limiter, and the Redis client behind both when ``AGORA_REDIS_URL`` is set.

Built once per service context (lazily, on first use) and closed by the spec's ``on_shutdown``.

Pushes leave only after the change committed, in the order they were committed by this process
(each publication waits for the one before it), on these topics of the fan-out:

* ``conversation:<id>``: ``message``, ``read`` and ``closed`` frames of that conversation;
* ``inbox``: an ``inbox`` frame with the conversation (and its unread counts) after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from agora.contracts.support import FRAME_CLOSED, FRAME_INBOX, FRAME_MESSAGE, FRAME_READ, INBOX
from agora.platform.connections import ConnectionLimiter
from agora.platform.fanout import LocalFanout, create_fanout
from agora.platform.kept import close_kept, kept, redis_for, redis_readiness
from agora.platform.ratelimit import RateLimited, UserRateLimit, limits_storage_url
from agora.platform.tasks import BackgroundWork
from agora.services.support.metrics import messages_total, rate_limited_total
from agora.services.support.service import Posted
from agora.services.support.settings import SupportSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported when the runtime is built (redis_for), not at start-up

    from agora.platform.service import ServiceContext

log = structlog.get_logger(__name__)

_RUNTIME = "support.runtime"


def conversation_topic(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


class MessageRateLimit:
    """At most ``rate`` messages per user in a moving window of ``window`` seconds (the chassis's limit)."""

    def __init__(self, url: str, *, rate: int, window: int, key_prefix: str) -> None:
        self._limit = UserRateLimit(url, rate=rate, window=window, namespace="support-messages", key_prefix=key_prefix)

    async def hit(self, user_id: str) -> None:
        """Takes one slot of ``user_id``; :class:`RateLimited` when none is left, 503 when the store is down."""
        retry_after = await self._limit.hit(
            user_id, unavailable="Sending messages is unavailable for a moment; try again shortly."
        )
        if retry_after is not None:
            rate_limited_total.inc()
            raise RateLimited(f"Too many messages; wait {retry_after} s.", retry_after)


@dataclass
class Runtime:
    settings: SupportSettings
    fanout: LocalFanout
    rate_limit: MessageRateLimit
    redis: Redis | None
    background: BackgroundWork = field(default_factory=BackgroundWork)
    _last: asyncio.Task[None] | None = None
    sockets: ConnectionLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.sockets = ConnectionLimiter(self.settings.socket_max_per_user, self.settings.socket_max_total)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Runs ``work`` in the background, holding a reference until it ends."""
        return self.background.spawn(work)

    def publish_later(self, frames: list[tuple[str, dict[str, Any]]]) -> None:
        """Publishes ``(topic, frame)`` pairs in the background, after everything published before."""
        previous = self._last

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(previous)
            for topic, frame in frames:
                try:
                    await self.fanout.publish(topic, frame)
                except Exception:  # Redis away: the history is the record, sockets catch up on reload
                    log.warning("support_push_failed", topic=topic, exc_info=True)

        self._last = self.spawn(run())

    def posted(self, posted: Posted) -> None:
        """After the commit of a message: count it and push it to the conversation and the inbox."""
        messages_total.labels(posted.message["author_role"]).inc()
        conversation = posted.conversation
        self.publish_later(
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
        self.publish_later([(conversation_topic(conversation["id"]), frame), (INBOX, inbox)])

    def opened(self, conversation: dict[str, Any]) -> None:
        self.publish_later([(INBOX, {"type": FRAME_INBOX, "conversation": conversation})])

    def closed(self, conversation: dict[str, Any]) -> None:
        self.publish_later(
            [
                (conversation_topic(conversation["id"]), {"type": FRAME_CLOSED, "conversation": conversation}),
                (INBOX, {"type": FRAME_INBOX, "conversation": conversation}),
            ]
        )

    async def settled(self) -> None:
        """Returns once the after-commit work spawned so far has run (tests, graceful shutdown)."""
        await self.background.settled()

    async def close(self) -> None:
        await self.background.cancel()
        await self.fanout.close()
        if self.redis is not None:
            await self.redis.aclose()


def settings_of(context: ServiceContext) -> SupportSettings:
    settings = context.settings
    assert isinstance(settings, SupportSettings)
    return settings


def runtime_of(context: ServiceContext) -> Runtime:
    return kept(context, _RUNTIME, lambda: _build_runtime(context))


def _build_runtime(context: ServiceContext) -> Runtime:
    settings = settings_of(context)
    redis = redis_for(context.platform)
    fanout = create_fanout(
        redis, channel=f"{settings.redis_prefix}fanout", queue_size=settings.socket_queue_size, name="support"
    )
    rate_limit = MessageRateLimit(
        limits_storage_url(settings.rate_limit_storage_url, context.platform.redis_url),
        rate=settings.message_rate,
        window=settings.message_rate_window_seconds,
        key_prefix=f"{settings.redis_prefix}rate",
    )
    return Runtime(settings, fanout, rate_limit, redis)


async def close_runtime(context: ServiceContext) -> None:
    await close_kept(context, _RUNTIME)


def readiness_checks(context: ServiceContext) -> Mapping[str, Callable[[], Awaitable[object]]]:
    return redis_readiness(context)
