from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from agora.platform.messaging import Envelope, EnvelopeError, topic_of


def test_round_trip_keeps_every_attribute() -> None:
    original = Envelope(
        type="catalog.product.created",
        source="agora/catalog",
        data={"sku": "A-1", "price": {"amount": 1299, "currency": "EUR"}},
        subject="product/42",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate="vendor=1",
        time=datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC),
    )
    assert Envelope.from_bytes(original.to_bytes()) == original


def test_structured_mode_json_has_cloudevents_attributes_and_omits_absent_ones() -> None:
    envelope = Envelope(type="orders.order.placed", source="agora/orders", data={"order_id": "o1"})
    raw = orjson.loads(envelope.to_bytes())
    assert raw["specversion"] == "1.0"
    assert raw["datacontenttype"] == "application/json"
    assert raw["time"].endswith("Z")
    assert {"id", "type", "source", "time", "data"} <= raw.keys()
    assert "subject" not in raw and "traceparent" not in raw
    assert len(raw["id"]) == 36


def test_defaults_are_fresh_per_envelope() -> None:
    a = Envelope(type="a.b", source="s")
    b = Envelope(type="a.b", source="s")
    assert a.id != b.id
    assert a.time.tzinfo is not None


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Envelope(type="a.b", source="s", time=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"specversion": "0.3", "id": "1", "type": "a.b", "source": "s"}',
        b'{"specversion": "1.0", "type": "a.b", "source": "s"}',
        b'{"specversion": "1.0", "id": "1", "type": "a.b", "source": "s", "data": [1]}',
    ],
)
def test_unreadable_bytes_raise_envelope_error(raw: bytes) -> None:
    with pytest.raises(EnvelopeError):
        Envelope.from_bytes(raw)


def test_topic_is_the_first_dotted_segment() -> None:
    assert topic_of("catalog.product.created") == "catalog"
    assert topic_of("orders") == "orders"
    assert Envelope(type="payments.charge.failed", source="s").topic == "payments"
    with pytest.raises(ValueError):
        topic_of(".x")
