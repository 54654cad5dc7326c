"""Stock counts: an admin sets them (creating rows), anyone reads them one by one or in a batch."""

from __future__ import annotations

from prometheus_client import REGISTRY

from agora.contracts.inventory import STOCK_UPDATED, StockUpdated

from .conftest import API, Inventory, new_sku

RESERVATIONS = "agora_inventory_reservations_total"


async def test_put_creates_then_updates_with_an_event_each(inventory: Inventory) -> None:
    sku = new_sku("CNT")
    before = await inventory.counts()
    created = await inventory.client.put(f"{API}/stock/{sku}", json={"on_hand": 7}, headers=inventory.admin_headers)
    assert created.status_code == 201, created.text
    assert created.json() == {"sku": sku, "on_hand": 7, "reserved": 0, "available": 7}
    updated = await inventory.client.put(f"{API}/stock/{sku}", json={"on_hand": 12}, headers=inventory.admin_headers)
    assert updated.status_code == 200
    assert updated.json() == {"sku": sku, "on_hand": 12, "reserved": 0, "available": 12}
    assert await inventory.stock(sku) == updated.json()

    after = await inventory.counts()
    assert after["stock"] == before["stock"] + 1 and after["outbox"] == before["outbox"] + 2
    events = [StockUpdated.model_validate(e["data"]) for e in await inventory.events(STOCK_UPDATED)]
    mine = [event for event in events if event.sku == sku]
    assert [(event.on_hand, event.version) for event in mine] == [(7, 1), (12, 2)]


async def test_on_hand_may_drop_to_what_is_reserved_but_not_below(inventory: Inventory) -> None:
    sku = new_sku("CNT")
    await inventory.set_stock(sku, 10)
    await inventory.reserve([(sku, 4)])
    assert (await inventory.set_stock(sku, 4)) == {"sku": sku, "on_hand": 4, "reserved": 4, "available": 0}
    refused = await inventory.client.put(f"{API}/stock/{sku}", json={"on_hand": 3}, headers=inventory.admin_headers)
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "on_hand"
    assert await inventory.stock(sku) == {"sku": sku, "on_hand": 4, "reserved": 4, "available": 0}
    # and nothing more can be reserved
    assert (await inventory.reserve([(sku, 1)])).status_code == 409


async def test_batch_read_answers_the_skus_that_have_stock(inventory: Inventory) -> None:
    a, b = new_sku("BAT"), new_sku("BAT")
    await inventory.set_stock(a, 3)
    await inventory.set_stock(b, 0)
    response = await inventory.client.get(f"{API}/stock", params={"sku": [b, "NO-SUCH-SKU", a, a]})
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert sorted(body["items"], key=lambda item: item["sku"]) == sorted(
        [
            {"sku": a, "on_hand": 3, "reserved": 0, "available": 3},
            {"sku": b, "on_hand": 0, "reserved": 0, "available": 0},
        ],
        key=lambda item: item["sku"],
    )


async def test_admin_lists_every_row_by_cursor(inventory: Inventory) -> None:
    for _ in range(5):
        await inventory.set_stock(new_sku("LST"), 1)
    expected = (await inventory.counts())["stock"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await inventory.client.get(f"{API}/stock/all", params=params, headers=inventory.admin_headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(item["sku"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == expected


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_openapi_and_business_metrics(inventory: Inventory) -> None:
    document = (await inventory.client.get(f"{API}/openapi.json")).json()
    assert {f"{API}/stock/{{sku}}", f"{API}/reservations", f"{API}/reservations/{{reservation_id}}/commit"} <= set(
        document["paths"]
    )

    sku = new_sku("MET")
    await inventory.set_stock(sku, 1)
    held, refused = _sample(RESERVATIONS, outcome="held"), _sample(RESERVATIONS, outcome="out_of_stock")
    assert (await inventory.reserve([(sku, 1)])).status_code == 201
    assert (await inventory.reserve([(sku, 1)])).status_code == 409
    assert _sample(RESERVATIONS, outcome="held") == held + 1
    assert _sample(RESERVATIONS, outcome="out_of_stock") == refused + 1
    exposed = (await inventory.client.get("/metrics")).text
    assert 'agora_inventory_reservations_total{outcome="held"}' in exposed
