"""A process killed after each saga step, restarted: every order ends paid or failed, never lost,
never charged twice, never with stock held, and its Idempotency-Key keeps that one outcome.

``agora up`` runs as a real subprocess (embedded, one process, SQLite under a private data dir)
with a fault the test injects (``tests/support/crashes.py``): the checkout request dies with the
process right after that step is committed. A restart resumes or compensates the order through
recovery (a short lease so the test need not wait long):

* paid  => exactly one captured charge and a committed reservation;
* failed => no captured charge (or a refunded one) and the reservation released (or never made);
* either way, the same request with the same key is answered from that order (issue 12, defect 4:
  a retry after an interrupted checkout made a second, paid order), and replayed identically.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.testing.processes import agora_command
from agora.services.orders.saga import STEPS
from tests.support import crashes
from tests.support.stack import ADDRESS, GOOD_CARD, PASSWORD

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
PAID_STEPS = {"charged", "confirmed", "done"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agora-crash") / "var"


def _env(**extra: str) -> dict[str, str]:
    return {
        "AGORA_ENVIRONMENT": "development",
        "AGORA_LOG_LEVEL": "WARNING",
        "AGORA_ORDERS_LEASE_SECONDS": "2",
        "AGORA_ORDERS_RECOVERY_INTERVAL": "0.5",
        **extra,
    }


def agora_up(data_dir: Path, log: Path, **env: str) -> AbstractContextManager[tuple[httpx.Client, Any]]:
    return crashes.agora_up(agora_command("up", "--data-dir", str(data_dir)), log, **_env(**env))


def _login(client: httpx.Client, email: str) -> dict[str, str]:
    return crashes.login(client, email, PASSWORD)


def _poll(read: Any, done: Any, *, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"not settled within {within:g}s: {value}"
        time.sleep(0.2)  # polling another process's state with a deadline: no event to await


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_after_each_step_ends_paid_or_failed_and_consistent(data_dir: Path, step: str) -> None:
    logs = data_dir.parent
    email = f"crash-{step}-{uuid.uuid4().hex[:6]}@example.org"
    crashing = crashes.agora_with_fault(f"crash_after_saga_step:{step}", "up", "--data-dir", str(data_dir))
    with crashes.agora_up(crashing, logs / f"{step}-crash.log", **_env()) as (client, process):
        assert client.post("/api/identity/register", json={"email": email, "password": PASSWORD}).status_code == 201
        user = _login(client, email)
        product = client.get("/api/catalog/products", params={"limit": 1}).json()["items"][0]
        before = _poll(
            lambda: client.get(f"/api/inventory/stock/{product['sku']}"),
            lambda response: response.status_code == 200 and response.json()["available"] >= 2,
        ).json()
        added = client.post("/api/cart/items", json={"product_id": product["id"], "quantity": 2}, headers=user)
        assert added.status_code in (200, 201), added.text
        body = {"currency": "EUR", "shipping_address": ADDRESS, "card": GOOD_CARD}
        headers = {**user, "Idempotency-Key": str(uuid.uuid4())}
        with pytest.raises(httpx.TransportError):  # the process dies mid-request
            answer = client.post("/api/orders/checkout", json=body, headers=headers)
            pytest.fail(f"the checkout answered {answer.status_code}: {answer.text}")
        assert process.wait(timeout=30) == crashes.CRASH_EXIT_CODE

    admin_email = f"ops-{step}-{uuid.uuid4().hex[:6]}@example.org"
    created = subprocess.run(
        agora_command("create-admin", "--email", admin_email, "--data-dir", str(data_dir)),
        env={**os.environ, **_env(), "AGORA_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert created.returncode == 0, created.stderr

    with agora_up(data_dir, logs / f"{step}-restart.log") as (client, _):
        user, admin = _login(client, email), _login(client, admin_email)
        orders = _poll(
            lambda: client.get("/api/orders", headers=user).json()["items"],
            lambda items: len(items) == 1 and items[0]["status"] in ("paid", "failed"),
        )
        order = orders[0]
        charges = client.get("/api/payments/charges", params={"order_id": order["id"]}, headers=admin).json()["items"]
        captured = [charge for charge in charges if charge["status"] == "captured"]
        reservation = client.get(f"/api/inventory/reservations/{order['id']}", headers=admin)
        after = client.get(f"/api/inventory/stock/{product['sku']}").json()
        cart = client.get("/api/cart", headers=user).json()
        retried = client.post("/api/orders/checkout", json=body, headers={**headers, **user})
        replayed = client.post("/api/orders/checkout", json=body, headers={**headers, **user})
        orders_after = client.get("/api/orders", headers=user).json()["items"]

    assert [o["id"] for o in orders_after] == [order["id"]]  # one key, one order
    assert (replayed.content, replayed.headers.get("location")) == (retried.content, retried.headers.get("location"))
    assert replayed.status_code == retried.status_code

    if step in PAID_STEPS:
        assert order["status"] == "paid", order
        assert len(captured) == 1 and captured[0]["amount"] == order["total"]
        assert reservation.status_code == 200 and reservation.json()["status"] == "committed"
        assert after["on_hand"] == before["on_hand"] - 2 and after["reserved"] == before["reserved"]
        assert cart["items"] == []  # recovery finished the last step too
        assert retried.status_code == 201 and retried.json()["id"] == order["id"]
        assert retried.headers["location"] == f"/api/orders/{order['id']}"
    else:
        assert order["status"] == "failed", order
        assert order["failure"]["code"] == "checkout_interrupted"
        assert captured == []
        assert reservation.status_code == 404 or reservation.json()["status"] == "released"
        assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
        assert retried.status_code == 503, retried.text
        assert (retried.json()["order_id"], retried.json()["code"]) == (order["id"], "checkout_interrupted")
