"""The summary's arithmetic: revenue per day and currency, average order value, top products, funnel."""

from __future__ import annotations

from datetime import date

from agora.services.analytics.reports import FunnelCounts, Line, PaidOrder, average, summarize

A, B, C = "prod-a", "prod-b", "prod-c"


def test_summary_arithmetic() -> None:
    orders = [
        PaidOrder("1", "USD", 1000, date(2026, 3, 1), [Line(A, "A", 2, 800), Line(B, "B", 1, 200)]),
        PaidOrder("2", "USD", 501, date(2026, 3, 1), [Line(B, "B", 3, 501)]),
        PaidOrder("3", "EUR", 700, date(2026, 3, 2), [Line(A, "A", 1, 700)]),
        PaidOrder("4", "USD", 2000, date(2026, 3, 2), [Line(C, "C", 1, 2000)]),
    ]
    result = summarize(orders, FunnelCounts(views=200, carts=20, checkouts=5, paid=4), top=2)
    assert result["orders"] == 4
    assert result["revenue_per_day"] == [
        {"date": "2026-03-01", "currency": "USD", "amount": 1501, "orders": 2},
        {"date": "2026-03-02", "currency": "EUR", "amount": 700, "orders": 1},
        {"date": "2026-03-02", "currency": "USD", "amount": 2000, "orders": 1},
    ]
    assert result["currencies"] == [
        {
            "currency": "EUR",
            "orders": 1,
            "revenue": {"amount": 700, "currency": "EUR"},
            "average_order_value": {"amount": 700, "currency": "EUR"},
        },
        {
            "currency": "USD",
            "orders": 3,
            "revenue": {"amount": 3501, "currency": "USD"},
            "average_order_value": {"amount": 1167, "currency": "USD"},  # 3501 / 3 = 1167
        },
    ]
    # B sold 4 units, A 3 and C 1 (cut by top=2)
    assert [(p["product_id"], p["units"]) for p in result["top_products"]] == [(B, 4), (A, 3)]
    assert result["top_products"][1]["revenue"] == [
        {"amount": 700, "currency": "EUR"},
        {"amount": 800, "currency": "USD"},
    ]
    assert result["funnel"] == {
        "views": 200,
        "carts": 20,
        "checkouts": 5,
        "paid": 4,
        "rates": {"view_to_cart": 0.1, "cart_to_checkout": 0.25, "checkout_to_paid": 0.8, "view_to_paid": 0.02},
    }


def test_average_rounds_halves_up_and_empty_steps_have_no_rate() -> None:
    assert average(3, 2) == 2 and average(5, 2) == 3 and average(10, 3) == 3 and average(11, 3) == 4
    empty = summarize([], FunnelCounts(views=0, carts=0, checkouts=0, paid=0), top=5)
    assert empty["orders"] == 0 and empty["currencies"] == [] and empty["top_products"] == []
    assert set(empty["funnel"]["rates"].values()) == {None}
