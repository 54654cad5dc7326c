"""An event's spans: created in the writer's transaction, sent by the relay, processed by a consumer.

One checkout is one trace, across the broker too. The chain is parent to child all the way::

    POST /api/orders/checkout (orders, SERVER)
      create orders        (PRODUCER, in the request's transaction: the outbox row)
        send orders        (PRODUCER, the relay, later, in the same process; messaging.system)
          process orders.order.paid   (CONSUMER, notifications; its SQL and calls below it)

Parent, not link, for the relay's send span: the relay publishes a row the request committed, so
the send is the request's work finishing later, and a waterfall that shows the wait between
commit and send is the view an operator needs (a link would start a trace per relay batch and
leave the consumer's side in that other trace). Each message gets its own send span, child of
its own create span, even when the relay sends a batch of them in one broker call: a batch
mixes events of many requests, and one span with links would belong to none of their traces.

The envelope's ``traceparent`` is the context of the last hop that put the event on its way:
the create span until the relay sends it, then the relay's send span (the relay stamps a copy;
the outbox row keeps the create span's, so a re-publish after a failure is a new send span under
the same create span). The CloudEvents extension's authors meant the attribute as the
producer's context; a consumer that wants the creation context finds it as its parent's parent.

These spans exist only when traces are exported (:func:`~agora.platform.observability.tracing.exporting`):
without a collector nobody reads them, and the consumer's span then hangs under the request's
span directly, as the envelope carries the request's context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from agora.platform.messaging.envelope import Envelope, topic_of
from agora.platform.messaging.transports.base import Outgoing
from agora.platform.observability.tracing import exporting

tracer = trace.get_tracer("agora.messaging")


def messaging_system(transport: Any) -> str:
    """The ``messaging.system`` attribute for a transport: ``kafka``, ``nats``, ``redis``, ``memory``."""
    return type(transport).__name__.removesuffix("Transport").lower() or "unknown"


def carried_context(envelope: Envelope) -> Any:
    """The context the envelope carries (an empty one when it carries none)."""
    carrier = {name: value for name in ("traceparent", "tracestate") if (value := getattr(envelope, name))}
    return propagate.extract(carrier)


@contextmanager
def creating(event_type: str, source: str) -> Iterator[Span | None]:
    """Around writing one event to the outbox: a PRODUCER ``create`` span, child of the current
    one, when traces are exported (``None`` otherwise). The envelope written inside it carries it."""
    if not exporting():
        yield None
        return
    topic = topic_of(event_type)
    with tracer.start_as_current_span(
        f"create {topic}",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.operation.type": "create",
            "messaging.operation.name": "create",
            "messaging.destination.name": topic,
            "cloudevents.event_type": event_type,
            "cloudevents.event_source": source,
        },
    ) as span:
        yield span


@contextmanager
def sending(messages: Sequence[Outgoing], system: str) -> Iterator[Sequence[Outgoing]]:
    """Around one broker call of the relay: a PRODUCER ``send`` span per message that carries a
    trace context, child of that context; yields the messages with their envelopes stamped with
    their send span's context (the consumer's parent). Spans fail with the call."""
    if not exporting():
        yield messages
        return
    spans: list[Span] = []
    stamped: list[Outgoing] = []
    for message in messages:
        envelope = message.envelope
        if envelope.traceparent is None:
            stamped.append(message)
            continue
        span = tracer.start_span(
            f"send {message.topic}",
            context=carried_context(envelope),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": system,
                "messaging.operation.type": "send",
                "messaging.operation.name": "send",
                "messaging.destination.name": message.topic,
                "messaging.message.id": envelope.id,
                "messaging.batch.message_count": len(messages),
                "cloudevents.event_type": envelope.type,
            },
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        stamped.append(
            message._replace(
                envelope=dataclasses.replace(
                    envelope, traceparent=carrier.get("traceparent"), tracestate=carrier.get("tracestate")
                )
            )
        )
        spans.append(span)
    try:
        yield stamped
    except BaseException as exc:
        flag = getattr(exc, "fault_flag", None)  # a failure a fault flag injected says which
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            if flag:
                span.set_attribute("fault.flag", flag)
        raise
    finally:
        for span in spans:
            span.end()


__all__ = ["carried_context", "creating", "messaging_system", "sending"]
