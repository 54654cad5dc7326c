"""Events between services: envelope, transactional outbox, relay, idempotent consumers, transports.

Writing: ``await outbox.add(session, "orders.order.placed", {...}, subject=order_id)`` in the
same transaction as the state change. Publishing: one :class:`OutboxRelay` per service
database. Reading: a :class:`Consumer` per service with ``on(event_type, handler)``.
"""

from agora.platform.messaging.consumer import (
    Consumer,
    EventHandler,
    Outcome,
    dead_letter_topic,
    list_dead_letters,
    replay_dead_letter,
)
from agora.platform.messaging.envelope import Envelope, EnvelopeError, topic_of
from agora.platform.messaging.outbox import OUTBOX_DIRTY, EventWriter, Outbox, current_trace_context
from agora.platform.messaging.relay import OutboxRelay, RelayPublishError
from agora.platform.messaging.tables import dead_letters, inbox, messaging_metadata, outbox
from agora.platform.messaging.transports import (
    Handler,
    Outgoing,
    Subscription,
    Transport,
    TransportError,
    create_transport,
)

__all__ = [
    "OUTBOX_DIRTY",
    "Consumer",
    "Envelope",
    "EnvelopeError",
    "EventHandler",
    "EventWriter",
    "Handler",
    "Outbox",
    "OutboxRelay",
    "Outcome",
    "Outgoing",
    "RelayPublishError",
    "Subscription",
    "Transport",
    "TransportError",
    "create_transport",
    "current_trace_context",
    "dead_letter_topic",
    "dead_letters",
    "inbox",
    "list_dead_letters",
    "messaging_metadata",
    "outbox",
    "replay_dead_letter",
    "topic_of",
]
