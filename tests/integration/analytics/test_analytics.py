"""Analytics over HTTP and events on each database: events → summary numbers, redelivery counted
once, the seeded history answering predict and analyze, the guards, and bad input changing nothing."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from agora.contracts.cart import CART_ITEM_ADDED
from agora.contracts.cart import SOURCE as CART_SOURCE
from agora.contracts.orders import ORDER_CANCELLED, ORDER_FAILED, ORDER_PAID, ORDER_PLACED
from agora.contracts.orders import SOURCE as ORDERS_SOURCE
from agora.platform.db.types import utcnow
from agora.platform.testing.waiting import eventually
from agora.services.analytics.seed import PRODUCTS, product_id

from .conftest import API, Analytics

DEADLINE = 30.0
P1, P2, P3 = (str(uuid.uuid4()) for _ in range(3))


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


Lines = list[tuple[str, int, int]]


def facts(order_id: str, user: str, currency: str, lines: Lines, shipping: int = 0) -> dict[str, Any]:
    items = [
        {
            "product_id": pid,
            "sku": f"SKU-{pid[:6]}",
            "name": f"Product {pid[:6]}",
            "quantity": quantity,
            "unit_price": money(price, currency),
            "line_total": money(price * quantity, currency),
        }
        for pid, quantity, price in lines
    ]
    subtotal = sum(price * quantity for _, quantity, price in lines)
    return {
        "order_id": order_id,
        "user_id": user,
        "currency": currency,
        "items": items,
        "subtotal": money(subtotal, currency),
        "shipping": money(shipping, currency),
        "total": money(subtotal + shipping, currency),
    }


ADDRESS = {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "12345", "country": "US"}


async def place_and_pay(analytics: Analytics, data: dict[str, Any], at: datetime) -> list[str]:
    placed = await analytics.publish(ORDER_PLACED, {**data, "shipping_address": ADDRESS}, at=at, source=ORDERS_SOURCE)
    paid = await analytics.publish(
        ORDER_PAID, {**data, "payment_id": "pay"}, at=at + timedelta(seconds=5), source=ORDERS_SOURCE
    )
    return [placed.id, paid.id]


async def all_handled(analytics: Analytics, ids: list[str]) -> None:
    async def check() -> bool:
        return all([await analytics.handled(event_id) for event_id in ids])

    await eventually(check, within=DEADLINE, what="analytics to handle the events")


def metric(event_type: str) -> float:
    return REGISTRY.get_sample_value("agora_analytics_events_total", {"type": event_type}) or 0.0


async def test_events_become_summary_numbers(analytics: Analytics) -> None:
    day1 = datetime(2025, 3, 1, 10, tzinfo=UTC)
    day2 = datetime(2025, 3, 2, 15, tzinfo=UTC)
    ids: list[str] = []
    ids += await place_and_pay(analytics, facts("o-1", "u-1", "USD", [(P1, 2, 1000), (P2, 1, 500)], 300), day1)
    ids += await place_and_pay(analytics, facts("o-2", "u-2", "USD", [(P2, 4, 500)]), day1)
    ids += await place_and_pay(analytics, facts("o-3", "u-1", "EUR", [(P1, 1, 900)]), day2)
    ids += await place_and_pay(analytics, facts("o-4", "u-3", "USD", [(P3, 9, 100)]), day2)
    cancelled = await analytics.publish(
        ORDER_CANCELLED,
        {"order_id": "o-4", "user_id": "u-3", "total": money(900, "USD")},
        at=day2 + timedelta(hours=1),
        source=ORDERS_SOURCE,
    )
    failed = await analytics.publish(
        ORDER_FAILED,
        {"order_id": "o-5", "user_id": "u-4", "code": "card_declined", "reason": "Your card was declined."},
        at=day2,
        source=ORDERS_SOURCE,
    )
    carts = [
        await analytics.publish(
            CART_ITEM_ADDED,
            {"product_id": pid, "quantity": 1, "line_quantity": 1, "user_id": "u-1"},
            at=day1,
            source=CART_SOURCE,
        )
        for pid in (P1, P2, P3, P1, P2, P1, P3)
    ]
    await all_handled(analytics, [*ids, cancelled.id, failed.id, *(c.id for c in carts)])

    response = await analytics.client.get(
        f"{API}/orders/summary", params={"from": "2025-03-01", "to": "2025-03-02", "top": 2}, headers=analytics.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2025-03-01" and body["to"] == "2025-03-02"
    assert body["orders"] == 3
    assert body["revenue_per_day"] == [
        {"date": "2025-03-01", "currency": "USD", "amount": 2800 + 2000, "orders": 2},
        {"date": "2025-03-02", "currency": "EUR", "amount": 900, "orders": 1},
    ]
    assert {c["currency"]: c["average_order_value"]["amount"] for c in body["currencies"]} == {"EUR": 900, "USD": 2400}
    assert [(p["product_id"], p["units"]) for p in body["top_products"]] == [(P2, 5), (P1, 3)]
    assert body["top_products"][1]["revenue"] == [money(900, "EUR"), money(2000, "USD")]
    funnel = body["funnel"]
    assert (funnel["views"], funnel["carts"], funnel["checkouts"], funnel["paid"]) == (0, 7, 5, 4)
    assert funnel["rates"]["cart_to_checkout"] == round(5 / 7, 4) and funnel["rates"]["checkout_to_paid"] == 0.8
    assert funnel["rates"]["view_to_cart"] is None

    # support may read the report too
    support = await analytics.client.get(
        f"{API}/orders/summary", params={"from": "2025-03-01", "to": "2025-03-02"}, headers=analytics.support
    )
    assert support.status_code == 200 and support.json()["orders"] == 3


async def test_the_same_event_twice_is_counted_once(analytics: Analytics) -> None:
    at = datetime(2025, 4, 10, 12, tzinfo=UTC)
    before = metric(ORDER_PAID)
    envelope = await analytics.publish(
        ORDER_PAID, {**facts("dup-1", "u-9", "USD", [(P1, 1, 700)]), "payment_id": "p"}, at=at, source=ORDERS_SOURCE
    )
    await analytics.redeliver(envelope)
    marker = await analytics.publish(
        CART_ITEM_ADDED, {"product_id": P1, "quantity": 1, "line_quantity": 1}, at=at, source=CART_SOURCE
    )
    await analytics.redeliver(marker)
    # a later event on the same topic has been handled, so both copies of the first went by
    later = await analytics.publish(
        ORDER_FAILED, {"order_id": "dup-2", "user_id": "u-9", "code": "x", "reason": "x"}, at=at, source=ORDERS_SOURCE
    )
    later_cart = await analytics.publish(
        CART_ITEM_ADDED, {"product_id": P2, "quantity": 1, "line_quantity": 1}, at=at, source=CART_SOURCE
    )
    await all_handled(analytics, [envelope.id, marker.id, later.id, later_cart.id])

    response = await analytics.client.get(
        f"{API}/orders/summary", params={"from": "2025-04-10", "to": "2025-04-10"}, headers=analytics.admin
    )
    body = response.json()
    assert body["orders"] == 1 and body["revenue_per_day"][0]["amount"] == 700
    assert body["funnel"]["carts"] == 2 and body["funnel"]["paid"] == 1
    assert metric(ORDER_PAID) == before + 1


async def test_product_views_are_public_and_counted(analytics: Analytics) -> None:
    today = utcnow().date().isoformat()
    params = {"from": today, "to": today}
    before = (await analytics.client.get(f"{API}/orders/summary", params=params, headers=analytics.admin)).json()
    views_before = metric("product_view")
    for headers in ({}, analytics.customer, {}):
        response = await analytics.client.post(
            f"{API}/events", json={"type": "product_view", "product_id": P1}, headers=headers
        )
        assert response.status_code == 202, response.text
    after = (await analytics.client.get(f"{API}/orders/summary", params=params, headers=analytics.admin)).json()
    assert after["funnel"]["views"] == before["funnel"]["views"] + 3
    assert metric("product_view") == views_before + 3


async def test_the_seeded_history_answers_predict(analytics: Analytics) -> None:
    product = product_id(PRODUCTS[1][0])  # the steady seller, about 9 a day
    response = await analytics.client.post(
        f"{API}/ml/predict", json={"product_id": product, "horizon_days": 14}, headers=analytics.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "holt" and body["model"]["observations"] >= 85
    days = body["forecast"]
    assert len(days) == 14 and days[0]["date"] == utcnow().date().isoformat()
    for day in days:
        assert 0 <= day["lower"] <= day["units"] <= day["upper"]
        assert 3 < day["units"] < 20  # plausible against the seeded demand
    assert days[-1]["upper"] - days[-1]["lower"] >= days[0]["upper"] - days[0]["lower"]


async def test_the_seeded_history_answers_analyze(analytics: Analytics) -> None:
    loaded = set(sys.modules)
    response = await analytics.client.post(f"{API}/ml/analyze", json={}, headers=analytics.admin)
    assert response.status_code == 200, response.text
    # scored in a child process: the service's own never imports scikit-learn (~100 MB kept for good)
    assert not {name for name in set(sys.modules) - loaded if name.split(".")[0] in ("sklearn", "scipy")}
    body = response.json()
    assert body["orders_analyzed"] > 1000 and body["contamination"] == 0.02
    flagged_users = [f["user_id"] for f in body["flagged"]]
    assert flagged_users[0] == "demo-user-9001"  # the planted 40x order scores highest
    assert "demo-user-9002" in flagged_users  # the burst of 8 orders in two hours
    assert len(flagged_users) <= round(body["orders_analyzed"] * 0.021)

    tight = await analytics.client.post(f"{API}/ml/analyze", json={"contamination": 0.01}, headers=analytics.admin)
    assert tight.status_code == 200 and len(tight.json()["flagged"]) <= round(body["orders_analyzed"] * 0.012)


async def test_without_scikit_learn_analyze_answers_503_and_the_rest_still_works(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as in the common container image, which leaves the ml extra out: importing it fails
    for name in ("numpy", "sklearn"):
        monkeypatch.setitem(sys.modules, name, None)
    before = await analytics.counts()
    refused = await analytics.client.post(f"{API}/ml/analyze", json={}, headers=analytics.admin)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["reason"] == "ml_not_installed" and "agora[ml]" in problem["detail"], problem
    # the forecast is plain Python and the summary needs no model: both answer as usual
    forecast = await analytics.client.post(
        f"{API}/ml/predict", json={"product_id": product_id(PRODUCTS[1][0]), "horizon_days": 3}, headers=analytics.admin
    )
    assert forecast.status_code == 200, forecast.text
    assert (await analytics.client.get(f"{API}/orders/summary", headers=analytics.admin)).status_code == 200
    assert await analytics.counts() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/orders/summary", None),
        ("POST", "/ml/predict", {"product_id": P1, "horizon_days": 3}),
        ("POST", "/ml/analyze", {}),
    ],
)
async def test_guards(analytics: Analytics, method: str, path: str, body: dict[str, Any] | None) -> None:
    anonymous = await analytics.client.request(method, f"{API}{path}", json=body)
    assert anonymous.status_code == 401, anonymous.text
    customer = await analytics.client.request(method, f"{API}{path}", json=body, headers=analytics.customer)
    assert customer.status_code == 403, customer.text
    if path.startswith("/ml/"):
        support = await analytics.client.request(method, f"{API}{path}", json=body, headers=analytics.support)
        assert support.status_code == 403, support.text


SEEDED = product_id(PRODUCTS[0][0])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "field"),
    [
        ("POST", "/ml/predict", {"json": {"product_id": SEEDED, "horizon_days": 0}}, 422, "body.horizon_days"),
        ("POST", "/ml/predict", {"json": {"product_id": SEEDED, "horizon_days": 1000}}, 422, "body.horizon_days"),
        ("POST", "/ml/predict", {"json": {"product_id": str(uuid.uuid4()), "horizon_days": 7}}, 404, "product_id"),
        ("POST", "/ml/predict", {"json": {"product_id": "nope", "horizon_days": 7}}, 422, "body.product_id"),
        ("POST", "/ml/predict", {"json": {"horizon_days": 7}}, 422, "body.product_id"),
        ("GET", "/orders/summary", {"params": {"from": "2025-13-01"}}, 422, "query.from"),
        ("GET", "/orders/summary", {"params": {"to": "yesterday"}}, 422, "query.to"),
        # lax pydantic read digits as seconds since 1970 (to=0 was 1970-01-01)
        ("GET", "/orders/summary", {"params": {"to": "0"}}, 422, "query.to"),
        ("POST", "/ml/analyze", {"json": {"from": 0}}, 422, "body.from"),
        ("GET", "/orders/summary", {"params": {"from": "2025-03-02", "to": "2025-03-01"}}, 422, "query.from"),
        ("GET", "/orders/summary", {"params": {"from": "2020-01-01", "to": "2025-01-01"}}, 422, "query.to"),
        ("GET", "/orders/summary", {"params": {"top": 0}}, 422, "query.top"),
        ("POST", "/ml/analyze", {"json": {"contamination": 0}}, 422, "body.contamination"),
        ("POST", "/ml/analyze", {"json": {"contamination": 0.9}}, 422, "body.contamination"),
        ("POST", "/ml/analyze", {"json": {"from": "03/01/2025"}}, 422, "body.from"),
        ("POST", "/ml/analyze", {"json": {"from": "2020-01-01", "to": "2020-02-01"}}, 422, "from"),
        ("POST", "/ml/analyze", {"json": {"from": "2025-02-01", "to": "2025-01-01"}}, 422, "from"),
        ("POST", "/ml/analyze", {"json": {"surprise": 1}}, 422, "body.surprise"),
        ("POST", "/events", {"json": {"type": "purchase", "product_id": P1}}, 422, "body.type"),
        ("POST", "/events", {"json": {"type": "product_view", "product_id": "x" * 500}}, 422, "body.product_id"),
        ("POST", "/events", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "body"),
    ],
)
async def test_bad_input_changes_nothing(
    analytics: Analytics, method: str, path: str, kwargs: dict[str, Any], status: int, field: str
) -> None:
    before = await analytics.counts()
    kwargs = dict(kwargs)  # parametrized values are shared by every backend's run
    headers = {**analytics.admin, **kwargs.pop("headers", {})}
    response = await analytics.client.request(method, f"{API}{path}", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json().get("errors", [])], response.text
    assert await analytics.counts() == before
