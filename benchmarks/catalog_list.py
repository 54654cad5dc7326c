"""Catalog list and search at 1k, 10k and 100k products: does a page cost the same on a big catalog?

For each ``--products`` size: a fresh catalog database (SQLite in a temporary directory, or a
scratch PostgreSQL database with ``--database postgresql``) migrated by ``agora migrate catalog``
and filled with that many generated products (bulk Core inserts: the demo seed goes through the
ORM and events, far too slow for 100k rows); then ``agora serve catalog`` alone, and wrk on:

* ``list``: the first page, newest first (the storefront's default);
* ``list page 2``: the page after it, through the keyset cursor the first one returned;
* ``by price``: the first page by ascending price;
* ``search common``: one word found in 1/40 of the products (2,500 matches at 100k, ranked);
* ``search rare``: one word found in 20 products, whatever the size.

It prints req/s, p50/p99 and the server's CPU per request (its user + system time during the run
over the requests: on a shared machine the figure other load moves least) per size and query, and
each query's p50 (issue 16's target: within 2x) and CPU per request at the largest size over the
smallest, and writes the result to
``benchmarks/results/catalog-list-<timestamp>.json``.

    .venv/bin/python benchmarks/catalog_list.py                       # 1000,10000,100000 on SQLite
    .venv/bin/python benchmarks/catalog_list.py --database postgresql --products 1000,100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from catalog_by_id import BenchError, Server, agora_env, cpu_seconds, free_port, http_get, run_wrk  # noqa: E402

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ADJECTIVES = (
    "amber azure brisk calm dapper eager fancy gentle hardy ivory jolly keen lively mellow noble "
    "olive plush quiet rustic sturdy tidy urban vivid warm young zesty bold crisp dusky fine grand "
    "humble lucid merry neat proud rapid sleek true wild"
).split()  # 40: each word names 1/40 of the products
NOUNS = "lamp chair kettle scarf mug desk boot clock vase rug shelf pen bag hat jar bowl tray fan kite sofa".split()
CATEGORIES = 10
PAGE = 20


def generated_rows(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Categories, products and tag rows; names carry a common word (1/40) and a rare one (20 each)."""
    now = datetime.now(UTC)
    categories = [
        {
            "id": str(uuid.uuid4()),
            "slug": f"bench-{index}",
            "name": f"Bench {index}",
            "description": "",
            "created_at": now,
            "updated_at": now,
        }
        for index in range(CATEGORIES)
    ]
    rare_groups = max(1, count // 20)
    products: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for index in range(count):
        product_id = str(uuid.uuid4())
        tag = NOUNS[index % len(NOUNS)]
        products.append(
            {
                "id": product_id,
                "sku": f"BENCH-{index:07d}",
                "name": f"{ADJECTIVES[index % len(ADJECTIVES)]} {tag} lot{index % rare_groups}",
                "description": f"Generated product {index} for the list benchmark.",
                "price_amount": 100 + (index * 7919) % 100_000,
                "price_currency": "USD",
                "category_id": categories[index % CATEGORIES]["id"],
                "tags_text": tag,
                "images": [],
                "active": True,
                "created_at": now - timedelta(seconds=index),
                "updated_at": now,
                "version": 1,
            }
        )
        tags.append({"product_id": product_id, "tag": tag})
    return categories, products, tags


async def fill(url: str, count: int) -> None:
    from sqlalchemy import insert

    from agora.platform.db import create_engine
    from agora.services.catalog.models import Category, Product, ProductTag

    categories, products, tags = generated_rows(count)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Category.__table__), categories)
            for table, rows in ((Product.__table__, products), (ProductTag.__table__, tags)):
                for start in range(0, len(rows), 5000):
                    await connection.execute(insert(table), rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


def prepare(size: int, work: Path, database: str, databases: list[str]) -> dict[str, str]:
    env = agora_env()
    if database == "postgresql":
        from agora.platform.testing.scratch import create_database

        url = asyncio.run(create_database(POSTGRES_URL, "postgresql"))
        databases.append(url)
    else:
        url = f"sqlite+aiosqlite:///{work / 'catalog.db'}"
    env["AGORA_CATALOG_DATABASE_URL"] = url
    env["AGORA_ACCESS_LOG"] = "false"
    migrate = [sys.executable, "-m", "agora", "migrate", "catalog", "--data-dir", str(work)]
    done = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"agora migrate catalog failed: {done.stderr[-500:] or done.stdout[-500:]}")
    started = time.monotonic()
    asyncio.run(fill(url, size))
    print(f"  {size} products inserted in {time.monotonic() - started:.1f} s", flush=True)
    return env


def queries(base: str, size: int) -> dict[str, str]:
    first = f"{base}/api/catalog/products?limit={PAGE}"
    status, body = http_get(first, timeout=30)
    if status != 200:
        raise BenchError(f"the first page answered {status}: {body[:200]!r}")
    cursor = json.loads(body)["next_cursor"]
    return {
        "list": first,
        "list page 2": f"{first}&cursor={cursor}",
        "by price": f"{first}&sort=price_asc",
        "search common": f"{first}&q=amber",
        "search rare": f"{first}&q=lot{max(1, size // 20) // 2}",
    }


def measure(size: int, args: argparse.Namespace, databases: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"agora-list-{size}-") as tmp:
        work = Path(tmp)
        env = prepare(size, work, args.database, databases)
        port = free_port()
        argv = [sys.executable, "-m", "agora", "serve", "catalog", "--port", str(port), "--host", "127.0.0.1"]
        server = Server(
            name=f"catalog-{size}",
            argv=[*argv, "--data-dir", str(work), "--no-migrate"],
            port=port,
            log_path=work / "serve.log",
            env=env,
        )
        try:
            server.start()
            server.wait_ready(args.start_timeout)
            results: dict[str, Any] = {}
            for name, url in queries(server.base_url, size).items():
                status, body = http_get(url, timeout=30)
                items = len(json.loads(body)["items"]) if status == 200 else 0
                if status != 200 or items == 0:
                    raise BenchError(f"{name} answered {status} with {items} items: {body[:200]!r}")
                run_wrk(url, connections=args.connections, duration=1)  # warm-up, discarded
                assert server.process is not None
                cpu_before = cpu_seconds(server.process.pid)
                result = run_wrk(url, connections=args.connections, duration=args.duration)
                cpu_after = cpu_seconds(server.process.pid)
                if cpu_before is not None and cpu_after is not None and result["requests"]:
                    # the server's own CPU per request: what a shared machine's load changes least
                    result["cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / result["requests"], 3)
                results[name] = result
                print(
                    f"  {name:14} {result['requests_per_s']:8.0f} req/s  p50 {result['p50_ms']:7.2f} ms"
                    f"  p99 {result['p99_ms']:7.2f} ms  CPU/request {result.get('cpu_ms_per_request', 'n/a')} ms",
                    flush=True,
                )
            return results
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", default="1000,10000,100000", help="comma-separated catalog sizes")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--start-timeout", type=float, default=120)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.products.split(",")]
    databases: list[str] = []
    by_size: dict[int, Any] = {}
    try:
        for size in sizes:
            print(f"{size} products ({args.database}):", flush=True)
            by_size[size] = measure(size, args, databases)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if databases:
            from agora.platform.testing.scratch import drop_database

            for url in databases:
                with contextlib.suppress(Exception):
                    asyncio.run(drop_database(POSTGRES_URL, "postgresql", url))
    smallest, largest = min(sizes), max(sizes)
    ratios = {
        name: round(by_size[largest][name]["p50_ms"] / by_size[smallest][name]["p50_ms"], 2)
        for name in by_size[smallest]
    }
    print(f"p50 at {largest} / p50 at {smallest}: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    cpu_ratios = {
        name: round(by_size[largest][name]["cpu_ms_per_request"] / by_size[smallest][name]["cpu_ms_per_request"], 2)
        for name in by_size[smallest]
        if by_size[largest][name].get("cpu_ms_per_request") and by_size[smallest][name].get("cpu_ms_per_request")
    }
    print(f"CPU per request at {largest} / at {smallest}: " + ", ".join(f"{k} {v}" for k, v in cpu_ratios.items()))
    out = HERE / "results" / f"catalog-list-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"database": args.database, "by_size": by_size, "ratios": ratios, "cpu_ratios": cpu_ratios}, indent=2
        )
    )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
