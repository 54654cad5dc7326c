"""Inventory's pure rules: the request contract, demo quantities, settings that fail fast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from agora.contracts.inventory import MAX_ITEMS, MAX_QUANTITY, Reservation, ReservationRequest
from agora.services.inventory.service import DEMO_STOCK_MAX, DEMO_STOCK_MIN, ReservationView, demo_quantity
from agora.services.inventory.settings import InventorySettings


def request(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"reservation_id": "order-1", "items": [{"sku": "A-1", "quantity": 1}]}
    body.update(overrides)
    return body


def error_locations(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


def test_a_valid_request_parses() -> None:
    parsed = ReservationRequest.model_validate(request(ttl_seconds=60))
    assert parsed.items[0].quantity == 1 and parsed.ttl_seconds == 60


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        ({"items": [{"sku": "A-1", "quantity": 0}]}, ("items", 0, "quantity")),
        ({"items": [{"sku": "A-1", "quantity": MAX_QUANTITY + 1}]}, ("items", 0, "quantity")),
        ({"items": [{"sku": "A-1", "quantity": True}]}, ("items", 0, "quantity")),
        ({"items": []}, ("items",)),
        ({"items": [{"sku": f"S-{i}", "quantity": 1} for i in range(MAX_ITEMS + 1)]}, ("items",)),
        ({"items": [{"sku": "A-1", "quantity": 1}, {"sku": "A-1", "quantity": 2}]}, ("items",)),
        ({"items": [{"sku": "a-1", "quantity": 1}]}, ("items", 0, "sku")),
        ({"ttl_seconds": 0}, ("ttl_seconds",)),
        ({"ttl_seconds": 3601}, ("ttl_seconds",)),
        ({"reservation_id": ""}, ("reservation_id",)),
        ({"reservation_id": "has space"}, ("reservation_id",)),
    ],
)
def test_bad_requests_name_the_field(overrides: dict[str, object], location: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        ReservationRequest.model_validate(request(**overrides))
    assert location in error_locations(exc)


def test_duplicate_skus_are_named_in_the_message() -> None:
    with pytest.raises(ValidationError, match="repeated: A-1"):
        ReservationRequest.model_validate(request(items=[{"sku": "A-1", "quantity": 1}] * 2))


def test_demo_quantity_is_stable_and_in_range() -> None:
    quantities = [demo_quantity(f"SKU-{i}") for i in range(500)]
    assert quantities == [demo_quantity(f"SKU-{i}") for i in range(500)]
    assert min(quantities) >= DEMO_STOCK_MIN and max(quantities) <= DEMO_STOCK_MAX
    assert len(set(quantities)) > 50


def test_the_view_renders_the_contract_shape() -> None:
    view = ReservationView(
        id="order-1", status="held", expires_at=datetime(2026, 1, 1, tzinfo=UTC), items=(("A-1", 2), ("B-2", 1))
    )
    document = view.document()
    assert document["expires_at"] == "2026-01-01T00:00:00Z"
    parsed = Reservation.model_validate(document)
    assert [(item.sku, item.quantity) for item in parsed.items] == [("A-1", 2), ("B-2", 1)]


def test_settings_refuse_a_sweep_slower_than_the_ttl() -> None:
    with pytest.raises(ValidationError, match="sweep_interval_seconds"):
        InventorySettings(reservation_ttl_seconds=10, sweep_interval_seconds=30)
    with pytest.raises(ValidationError):
        InventorySettings(reservation_ttl_seconds=3601)
    assert InventorySettings().reservation_ttl_seconds == 900
    assert InventorySettings().sweep_interval_seconds == 5.0
