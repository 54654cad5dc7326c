"""What one in-process service call costs, through each adapter of its port (issue 16, item 3).

Starts identity, catalog, inventory and currency in one process (the embedded dispatcher of
``agora up``, SQLite, the in-process broker, the seed), then for each operation below makes
``--calls`` sequential calls as the orders service (the cart, for the catalog) would, through

* ``http``: the HTTP adapter over the in-process ASGI transport (what embedded mode did before:
  the callee's whole chassis, middleware, auth, JSON both ways), and
* ``direct``: the callee's direct adapter (its application layer, its own session),

and prints the wall time and the process CPU time per call. Operations: a currency conversion
(the saga makes two per line plus one for shipping), a product read by a visitor (the cart
prices every line so; served from the catalog's read cache), a stock read, and a reservation
held then released (two writes, each its own transaction).

Usage::

    .venv/bin/python benchmarks/port_calls.py [--calls 1000] > /dev/null   # the table is on stderr

Results also go to ``benchmarks/results/port-calls-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
sys.path.insert(0, str(HERE.parent / "src"))

SERVICES = ("identity", "catalog", "inventory", "currency")


async def measure(calls: int, operation: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(min(50, calls)):  # warm: caches, the service token, the pools
        await operation()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await operation()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_us": round(wall / calls * 1e6, 1), "cpu_us": round(cpu / calls * 1e6, 1)}


async def run(calls: int) -> dict[str, dict[str, dict[str, float]]]:
    from agora.contracts import http
    from agora.platform.peers import Caller, Peer
    from agora.platform.testing.apps import platform_for_tests, running_services
    from agora.platform.testing.waiting import eventually
    from agora.services import catalog, currency, identity, inventory

    specs = [identity.spec, catalog.spec, inventory.spec, currency.spec]
    factories: dict[str, Any] = {
        "catalog": http.HttpCatalog,
        "inventory": http.HttpInventory,
        "currency": http.HttpCurrency,
    }
    with tempfile.TemporaryDirectory(prefix="agora-port-calls-") as tmp:
        platform = platform_for_tests(Path(tmp), jwks_file=None)
        # one SQLite file per service in the scratch directory (agora.platform.testing.databases
        # would make them too, but it is pytest's: benchmarks run on what `make install` installs)
        sqlite = {name: f"sqlite+aiosqlite:///{Path(tmp) / name}.db" for name in SERVICES}
        async with contextlib.nullcontext(sqlite) as urls:
            settings = {spec.name: spec.settings_cls(database_url=urls[spec.name]) for spec in specs}
            async with running_services(specs, platform, settings, seed=True) as (client, embedded):

                def port(adapter: str, target: str, caller: Caller) -> Any:
                    if adapter == "http":
                        return factories[target](embedded.contexts["identity"].clients, caller)
                    return embedded.specs[target].port(Peer(embedded.peers, target, caller))

                products = (await client.get("/api/catalog/products", params={"limit": 1})).json()["items"]
                product, sku = products[0]["id"], products[0]["sku"]

                async def stocked() -> bool:
                    response = await client.get(f"/api/inventory/stock/{sku}")
                    return response.status_code == 200 and response.json()["available"] > 0

                await eventually(stocked, within=60, what=f"stock for {sku}")
                results: dict[str, dict[str, dict[str, float]]] = {}
                for adapter in ("http", "direct"):
                    results[adapter] = await _operations(
                        calls,
                        currency=port(adapter, "currency", Caller("orders")),
                        catalog=port(adapter, "catalog", Caller("cart", as_service=False)),
                        inventory=port(adapter, "inventory", Caller("orders")),
                        product=product,
                        sku=sku,
                    )
                return results


async def _operations(
    calls: int, *, currency: Any, catalog: Any, inventory: Any, product: str, sku: str
) -> dict[str, dict[str, float]]:
    from agora.contracts.catalog import Money
    from agora.contracts.inventory import ReservationItem, ReservationRequest

    money = Money(amount=1999, currency="USD")

    async def hold_and_release() -> None:
        request = ReservationRequest(reservation_id=uuid.uuid4().hex, items=[ReservationItem(sku=sku, quantity=1)])
        await inventory.reserve(request)
        await inventory.release(request.reservation_id)

    held = await measure(max(calls // 4, 1), hold_and_release)
    return {
        "currency.convert": await measure(calls, lambda: currency.convert(money, "EUR")),
        "catalog.product (visitor, cached)": await measure(calls, lambda: catalog.product(product)),
        "inventory.stock": await measure(calls, lambda: inventory.stock(sku)),
        "inventory.reserve + release (per call)": {key: value / 2 for key, value in held.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls))
    # the services log to stdout (the access log is on, as in production): the table goes to stderr
    print(
        f"{'operation':42} {'http wall':>10} {'http cpu':>10} {'direct wall':>12} {'direct cpu':>11}  (us/call)",
        file=sys.stderr,
    )
    for operation in results["http"]:
        over, direct = results["http"][operation], results["direct"][operation]
        figures = f"{over['wall_us']:>10} {over['cpu_us']:>10} {direct['wall_us']:>12} {direct['cpu_us']:>11}"
        print(f"{operation:42} {figures}", file=sys.stderr)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"port-calls-{stamp}.json"
    out.write_text(json.dumps({"calls": args.calls, "results": results}, indent=2))
    print(f"results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
