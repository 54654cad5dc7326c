"""The one event envelope: CloudEvents 1.0 attributes in structured JSON mode.

Every service publishes and consumes this shape, whatever the broker, so a consumer never
needs to know which transport carried an event. ``traceparent``/``tracestate`` are the W3C
Distributed Tracing extension attributes: they let one trace span the outbox, the broker and
the consumer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"

_OPTIONAL_ATTRIBUTES = ("subject", "traceparent", "tracestate")


def topic_of(event_type: str) -> str:
    """The topic an event type belongs to: its first dotted segment (``orders.order.placed`` -> ``orders``)."""
    topic, _, _ = event_type.partition(".")
    if not topic:
        raise ValueError(f"event type {event_type!r} has no topic segment")
    return topic


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class EnvelopeError(ValueError):
    """Bytes that are not a CloudEvents structured JSON event we can read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """An immutable event: what happened (``type``, ``data``), where (``source``), when (``time``)."""

    type: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=_new_id)
    time: datetime = field(default_factory=_now)
    subject: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    specversion: str = SPECVERSION
    datacontenttype: str = JSON_CONTENT_TYPE

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            # A naive time would be read differently by every consumer; refuse it at the source.
            raise ValueError("Envelope.time must be timezone-aware (UTC)")

    @property
    def topic(self) -> str:
        return topic_of(self.type)

    def to_dict(self) -> dict[str, Any]:
        """CloudEvents structured-mode attributes; absent optional attributes are omitted, as the spec asks."""
        out: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }
        for name in _OPTIONAL_ATTRIBUTES:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Envelope:
        try:
            if raw.get("specversion") != SPECVERSION:
                raise EnvelopeError(f"unsupported specversion {raw.get('specversion')!r}")
            data = raw.get("data") or {}
            if not isinstance(data, dict):
                raise EnvelopeError("data must be a JSON object")
            return cls(
                id=str(raw["id"]),
                type=str(raw["type"]),
                source=str(raw["source"]),
                time=_parse_time(raw.get("time")),
                data=data,
                subject=raw.get("subject"),
                traceparent=raw.get("traceparent"),
                tracestate=raw.get("tracestate"),
                datacontenttype=raw.get("datacontenttype") or JSON_CONTENT_TYPE,
            )
        except KeyError as exc:
            raise EnvelopeError(f"missing required attribute {exc.args[0]!r}") from exc

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Envelope:
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        if not isinstance(decoded, dict):
            raise EnvelopeError("a structured CloudEvent is a JSON object")
        return cls.from_dict(decoded)


def _parse_time(value: Any) -> datetime:
    if value is None:
        return _now()
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
