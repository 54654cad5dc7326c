"""Fault flags through the admin API of the embedded stack (agora.platform.faults): admins only,
validated bodies, seen by every process of the service, refused in production unless enabled."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from agora.platform.faults import CATALOG_LATENCY, PAYMENT_FAILURES, FaultFlags, fault_flags
from agora.platform.testing.waiting import eventually
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.backend("sqlite")

STRONG = "a production secret of more than thirty-two characters"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack("sqlite", tmp_path, stocked=1) as running:
        yield running


async def test_only_admins_switch_flags(stack: Stack) -> None:
    customer = await stack.register()
    on = {"enabled": True}
    assert (await stack.client.put("/api/catalog/admin/faults/catalog-latency", json=on)).status_code == 401
    for method, path in (("GET", "/api/catalog/admin/faults"), ("PUT", "/api/catalog/admin/faults/catalog-latency")):
        refused = await stack.client.request(method, path, json=on, headers=customer.headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    admin = await stack.admin()
    listed = (await stack.client.get("/api/catalog/admin/faults", headers=admin.headers)).json()
    assert {flag["flag"]: flag["enabled"] for flag in listed["faults"]} == {
        "catalog-latency": False,
        "broker-publish-failures": False,
    }


#: bodies a switch refuses, and the field its 422 names
BAD_BODIES = [
    ({}, "body.enabled"),
    ({"enabled": "yes"}, "body.enabled"),
    ({"enabled": True, "rate": 2}, "body.rate"),
    ({"enabled": True, "rate": 0}, "body.rate"),
    ({"enabled": True, "delay_seconds": -1}, "body.delay_seconds"),
    ({"enabled": True, "delay_seconds": 31}, "body.delay_seconds"),
    ({"enabled": True, "colour": "red"}, "body.colour"),
]


async def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(stack: Stack) -> None:
    admin = await stack.admin()
    for body, field in BAD_BODIES:
        answer = await stack.client.put("/api/payments/admin/faults/payment-failures", json=body, headers=admin.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in [error["field"] for error in answer.json()["errors"]], (body, answer.json())
    listed = (await stack.client.get("/api/payments/admin/faults", headers=admin.headers)).json()["faults"]
    assert not any(flag["enabled"] for flag in listed)
    text = await stack.client.put(
        "/api/payments/admin/faults/payment-failures",
        content=b"enabled",
        headers={**admin.headers, "content-type": "text/plain"},
    )
    assert text.status_code == 415


async def test_an_unknown_flag_or_a_service_without_flags_is_404(stack: Stack) -> None:
    admin = await stack.admin()
    on = {"enabled": True}
    unknown = await stack.client.put("/api/catalog/admin/faults/payment-failures", json=on, headers=admin.headers)
    assert unknown.status_code == 404 and "catalog-latency" in unknown.json()["detail"]
    none = await stack.client.put("/api/identity/admin/faults/catalog-latency", json=on, headers=admin.headers)
    assert none.status_code == 404


async def test_a_switch_reaches_every_process_of_the_service(stack: Stack) -> None:
    admin = await stack.admin()
    context = stack.context("catalog")
    # a second replica of catalog: its own FaultFlags on the same database
    replica = FaultFlags(context.sessions, service="catalog", flags=context.spec.fault_flags, allowed=True, ttl=0.2)
    assert await replica.active(CATALOG_LATENCY) is None
    path = "/api/catalog/products?limit=1"

    switched = await stack.client.put(
        "/api/catalog/admin/faults/catalog-latency", json={"enabled": True, "delay_seconds": 0.4}, headers=admin.headers
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["enabled"] is True and switched.json()["updated_by"]
    started = time.monotonic()
    assert (await stack.client.get(path)).status_code == 200
    assert time.monotonic() - started >= 0.4, "the process that took the switch delays at once"
    # the replica reads the table again once its cache is older than its ttl
    seen = await eventually(lambda: replica.active(CATALOG_LATENCY), within=2, what="the replica sees the flag")
    assert seen.delay_seconds == 0.4

    off = await stack.client.put(
        "/api/catalog/admin/faults/catalog-latency", json={"enabled": False}, headers=admin.headers
    )
    assert off.status_code == 200 and off.json()["enabled"] is False
    started = time.monotonic()
    assert (await stack.client.get(path)).status_code == 200
    assert time.monotonic() - started < 0.4

    async def replica_off() -> bool:
        return await replica.active(CATALOG_LATENCY) is None

    await eventually(replica_off, within=2, what="the replica sees the flag off")


async def test_payment_failures_fail_charges_at_the_set_rate(stack: Stack) -> None:
    admin = await stack.admin()
    switched = await stack.client.put(
        f"/api/payments/admin/faults/{PAYMENT_FAILURES}", json={"enabled": True, "rate": 1}, headers=admin.headers
    )
    assert switched.status_code == 200, switched.text
    (product,) = await stack.products(1)
    shopper = await stack.register()
    assert (await stack.add_to_cart(shopper, product["id"])).status_code in (200, 201)
    failed = await stack.checkout(shopper)
    assert failed.status_code >= 400, failed.text
    await stack.client.put(
        f"/api/payments/admin/faults/{PAYMENT_FAILURES}", json={"enabled": False}, headers=admin.headers
    )
    assert (await stack.checkout(shopper)).status_code == 201


async def test_production_refuses_flags_unless_enabled(tmp_path: Path) -> None:
    production = {"environment": "production", "secret_key": STRONG, "service_secret": STRONG}
    async with running_stack("sqlite", tmp_path / "off", stocked=0, platform_overrides=production) as stack:
        admin = await stack.admin()
        refused = await stack.client.put(
            "/api/catalog/admin/faults/catalog-latency",
            json={"enabled": True, "delay_seconds": 2},
            headers=admin.headers,
        )
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "AGORA_FAULT_FLAGS_ENABLED" in refused.json()["detail"]
        assert (await stack.client.get("/api/catalog/admin/faults", headers=admin.headers)).status_code == 404
        # a row written behind the API's back has no effect either
        faults = stack.context("catalog").faults
        assert faults is not None and not faults.allowed
        async with stack.context("catalog").sessions() as session:
            row = {"name": CATALOG_LATENCY, "enabled": True, "rate": 1, "delay_seconds": 2, "updated_by": "x"}
            await session.execute(insert(fault_flags).values(updated_at=datetime.now(UTC), **row))
            await session.commit()
        started = time.monotonic()
        assert (await stack.client.get("/api/catalog/products?limit=1")).status_code == 200
        assert time.monotonic() - started < 1.5
    enabled = {**production, "fault_flags_enabled": True}
    async with running_stack("sqlite", tmp_path / "on", stocked=0, platform_overrides=enabled) as stack:
        admin = await stack.admin()
        allowed = await stack.client.put(
            "/api/catalog/admin/faults/catalog-latency", json={"enabled": False}, headers=admin.headers
        )
        assert allowed.status_code == 200, allowed.text
