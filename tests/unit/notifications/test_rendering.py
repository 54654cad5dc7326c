"""What each event says: its kind, its text (with the order number), its email."""

from __future__ import annotations

import pytest

from agora.contracts import orders, payments, shipping
from agora.contracts.catalog import Money
from agora.contracts.notifications import KINDS
from agora.platform.messaging import Envelope
from agora.services.notifications.handlers import EVENT_TYPES, what_happened
from agora.services.notifications.rendering import Facts, email_message, email_text, format_money, render

ORDER = "5b0c1f0e-1111-4222-8333-944455556666"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_the_order(kind: str) -> None:
    rendered = render(kind, Facts(ORDER, Money(amount=1999, currency="USD"), tracking_id="TRK-1"))
    # the short number the order's page shows, not the whole id (issue 17)
    assert "#5B0C1F0E" in rendered.title and "#5B0C1F0E" in rendered.body and ORDER not in rendered.title


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        render("order_exploded", Facts(ORDER))


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1999, "USD", "$19.99"),
        (5, "EUR", "€0.05"),
        (123456, "EUR", "€1,234.56"),
        (1500, "JPY", "¥1,500"),
        (-250, "GBP", "-£2.50"),
    ],
)
def test_money(amount: int, currency: str, text: str) -> None:
    assert format_money(Money(amount=amount, currency=currency)) == text


def test_placed_lists_the_items_and_the_total() -> None:
    rendered = render("order_placed", Facts(ORDER, Money(amount=3500, currency="EUR"), (("Desk", 2), ("Lamp", 1))))
    assert "2 x Desk; 1 x Lamp" in rendered.body and "€35.00" in rendered.body


def test_failed_carries_the_reason_and_shipped_the_tracking() -> None:
    assert "Your card was declined." in render("order_failed", Facts(ORDER, reason="Your card was declined.")).body
    shipped = render("order_shipped", Facts(ORDER, tracking_id="TRK-9", carrier="DHL")).body
    assert "TRK-9" in shipped and "DHL" in shipped


def test_the_email_message() -> None:
    rendered = render("order_delivered", Facts(ORDER))
    message = email_message(
        sender="Agora <no-reply@agora.local>",
        recipient="ada@example.org",
        subject=rendered.title,
        text=email_text(rendered, display_name="Ada"),
        message_id_domain="agora.local",
    )
    assert message["To"] == "ada@example.org" and "#5B0C1F0E" in message["Subject"]
    assert message.get_content().startswith("Hello Ada,") and "#5B0C1F0E" in message.get_content()


def _envelope(event_type: str, data: dict[str, object]) -> Envelope:
    return Envelope(type=event_type, source="test", data=data)


def test_each_event_maps_to_a_kind_and_only_orders_events_are_emailed() -> None:
    money = {"amount": 100, "currency": "USD"}
    card = {"brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": 2030}
    base = {"order_id": ORDER, "user_id": "u-1"}
    samples = {
        orders.ORDER_FAILED: ({**base, "code": "out_of_stock", "reason": "r"}, "order_failed", True),
        orders.ORDER_CANCELLED: ({**base, "total": money}, "order_cancelled", True),
        orders.ORDER_SHIPPED: ({**base, "tracking_id": "T"}, "order_shipped", True),
        orders.ORDER_DELIVERED: (base, "order_delivered", True),
        payments.PAYMENT_CAPTURED: ({**base, "charge_id": "c", "amount": money, "card": card}, "order_paid", False),
        payments.PAYMENT_REFUNDED: (
            {**base, "charge_id": "c", "refund_id": "r", "amount": money},
            "order_cancelled",
            False,
        ),
        shipping.SHIPMENT_DELIVERED: (
            {
                "shipment_id": "s",
                "order_id": ORDER,
                "tracking_id": "T",
                "carrier": "DHL",
                "delivered_at": "2026-01-01T00:00:00Z",
            },
            "order_delivered",
            False,
        ),
    }
    for event_type, (data, kind, emailed) in samples.items():
        fact = what_happened(_envelope(event_type, data))
        assert fact is not None
        assert (fact[0], fact[2].order_id, fact[3]) == (kind, ORDER, emailed)
    assert what_happened(_envelope("orders.order.archived", base)) is None
    assert len(EVENT_TYPES) == 11
