"""Cart writes beside reads: N anonymous shoppers each loop add-to-cart, read the cart, read a product.

Against a running agora (``--url``), or one it starts (embedded, fresh data directory). Prints
per operation: count, non-2xx answers, p50/p95/p99/max in ms, and the operations per second. It
is the load under which embedded mode queued cart writes on one SQLite file (docs/performance.md,
"Cart writes under concurrency"): the figure to watch is the max and p99 of the reads beside the
writes, and the error count.

    .venv/bin/python benchmarks/cart_mix.py --clients 64 --duration 20
    .venv/bin/python benchmarks/cart_mix.py --url http://127.0.0.1:8000 --clients 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout import agora


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def product_ids(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/api/catalog/products", params={"limit": 100})).json()
    return [item["id"] for item in page["items"]]


async def run(base: str, *, clients: int, duration: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        ids = await product_ids(client)
        times: dict[str, list[float]] = {"add": [], "cart": [], "product": []}
        errors: dict[str, int] = {}
        stop_at = time.monotonic() + duration

        async def timed(name: str, request: Any) -> None:
            start = time.perf_counter()
            try:
                response = await request
            except httpx.HTTPError as exc:  # counted, not fatal: the figure is what the others saw
                key = f"{name} {type(exc).__name__}"
                errors[key] = errors.get(key, 0) + 1
                return
            times[name].append((time.perf_counter() - start) * 1000)
            if response.status_code >= 300:
                key = f"{name} {response.status_code}"
                errors[key] = errors.get(key, 0) + 1

        async def shopper() -> None:
            rng = random.Random()
            headers = {"X-Cart-Id": str(uuid.uuid4())}
            while time.monotonic() < stop_at:
                product = rng.choice(ids)
                body = {"product_id": product, "quantity": 1}
                await timed("add", client.post("/api/cart/items", json=body, headers=headers))
                await timed("cart", client.get("/api/cart", headers=headers))
                await timed("product", client.get(f"/api/catalog/products/{product}"))

        started = time.monotonic()
        await asyncio.gather(*(shopper() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "errors": errors,
        "operations": {
            name: {
                "count": len(values),
                "per_s": round(len(values) / elapsed, 1),
                "p50_ms": round(percentile(values, 0.50), 1),
                "p95_ms": round(percentile(values, 0.95), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values, default=0.0), 1),
            }
            for name, values in times.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an agora already running (default: start one, embedded)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--start-timeout", type=float, default=300)
    args = parser.parse_args()
    if args.url:
        result = asyncio.run(run(args.url, clients=args.clients, duration=args.duration))
    else:
        with (
            tempfile.TemporaryDirectory(prefix="agora-cart-mix-") as work,
            agora("embedded", Path(work), args.start_timeout) as (base, _pid),
        ):
            result = asyncio.run(run(base, clients=args.clients, duration=args.duration))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
