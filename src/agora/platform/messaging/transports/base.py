"""The transport port: what the outbox relay and consumers need from a broker, and no more.

Delivery is at-least-once on every implementation: a handler that returns acknowledges the
message; a handler that raises (or is cancelled) leaves it unacknowledged and it is delivered
again, possibly to another member of the same group. Exactly-once *effects* come from the
consumer's inbox (:mod:`..consumer`), not from the broker.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Any, NamedTuple, Protocol

from agora.platform.messaging.envelope import Envelope, EnvelopeError

Handler = Callable[[Envelope], Awaitable[None]]


class Delivery(Enum):
    """What a transport does with a message after :func:`deliver`."""

    ACK = "ack"  # handled
    RETRY = "retry"  # the handler raised: leave it for redelivery
    DROP = "drop"  # unreadable: it can never succeed, and redelivering it would block the rest


async def deliver(handler: Handler, payload: bytes, log: logging.Logger, **where: Any) -> Delivery:
    """Decodes one message and hands it to ``handler``; the transport acts on the outcome."""
    try:
        envelope = Envelope.from_bytes(payload)
    except EnvelopeError:
        log.exception("dropping an unreadable message", extra=where)
        return Delivery.DROP
    try:
        await handler(envelope)
    except Exception:
        log.exception("handler failed; the message will be redelivered", extra={"event_id": envelope.id, **where})
        return Delivery.RETRY
    return Delivery.ACK


async def stop_all(subscriptions: list[Any] | set[Any]) -> None:
    """Stops every subscription a transport holds (on a snapshot: stopping may remove one)."""
    for subscription in list(subscriptions):
        await subscription.stop()
    subscriptions.clear()


class Outgoing(NamedTuple):
    """One message for :meth:`Transport.publish_many`."""

    topic: str
    envelope: Envelope
    key: str | None = None


class Subscription(Protocol):
    """A running subscription; ``stop`` returns once no handler call is running any more."""

    async def stop(self) -> None: ...


class TransportError(RuntimeError):
    """The broker refused or could not be reached."""


class Transport(abc.ABC):
    """A broker connection. ``start`` before use, ``close`` at shutdown."""

    async def start(self) -> None:  # noqa: B027 - optional hook, most transports connect here
        """Connect. Idempotent."""

    async def close(self) -> None:  # noqa: B027
        """Stop every subscription and disconnect. Idempotent."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the broker cannot be reached (``/readyz`` calls this)."""

    @abc.abstractmethod
    async def publish(self, topic: str, envelope: Envelope, *, key: str | None = None) -> None:
        """Return once the broker has accepted (persisted) the message; raise otherwise."""

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        """Publish in order; return once all were accepted. Raises if any was not.

        When this raises, some messages may have been published anyway: the caller publishes
        them again and consumers de-duplicate. Transports override it to pipeline.
        """
        for message in messages:
            await self.publish(message.topic, message.envelope, key=message.key)

    @abc.abstractmethod
    async def subscribe(self, topic: str, group: str, handler: Handler) -> Subscription:
        """Deliver ``topic`` to ``handler``; members of one ``group`` share the messages."""

    async def backlog(self, topic: str, group: str) -> int | None:
        """Messages of ``topic`` that ``group`` has not acknowledged yet; None when this broker
        cannot tell (readiness then does not wait for the group to catch up)."""
        return None
