"""Checkouts per second, end to end, in embedded mode and in distributed mode on PostgreSQL.

What one run does, for each mode in turn (embedded first, then distributed):

1. starts ``agora up`` (embedded: one process on SQLite and the in-process broker; distributed:
   ``--distributed``, one process per service, a fresh PostgreSQL database per service, the
   in-process broker of each process replaced by Redis Streams, carts in Redis) on free loopback
   ports with a fresh data directory, and waits for ``/readyz``;
2. registers ``--clients`` shoppers through identity and waits until inventory has stock for the
   seeded products (stock comes from catalog events);
3. for ``--duration`` seconds every shopper loops: add one unit of a random product to the cart,
   ``POST /api/orders/checkout`` with a new Idempotency-Key and the test card that succeeds.
   A cycle counts when the checkout answered 201 (paid); anything else is counted by status;
4. prints checkouts/s, p50/p95/p99 of the checkout call, the resident memory of the whole
   process tree after start-up and after the load, and the ratio distributed/embedded (the
   baseline is the embedded run of the same invocation, on the same machine).

Usage::

    .venv/bin/python benchmarks/checkout.py [--duration 20] [--clients 16] [--modes embedded,distributed]
        [--calls direct|http]

Needs PostgreSQL (``AGORA_TEST_POSTGRES_URL``, default the loopback server) and Redis
(``AGORA_TEST_REDIS_URL``, default redis://127.0.0.1:6379/0) for the distributed mode. Results also
go to ``benchmarks/results/checkout-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
sys.path.insert(0, str(REPO / "src"))

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
ADDRESS = {"name": "Bench", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
POSTGRES_URL = os.environ.get("AGORA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MiB (Linux /proc)."""
    total_kib = 0
    for current in tree_pids(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return round(total_kib / 1024, 1)


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    pids: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in pids:
            continue
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) of ``pid`` and its descendants so far (Linux /proc)."""
    ticks = 0
    for current in tree_pids(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def service_names() -> list[str]:
    from agora.registry import service_specs

    return [spec.name for spec in service_specs()]


@contextmanager
def agora(mode: str, work: Path, start_timeout: float = 300, calls: str = "direct"):  # type: ignore[no-untyped-def]
    """Starts agora in ``mode``; yields its base URL; stops it and drops its databases.

    ``calls``: how embedded services call each other, ``direct`` (their ports' direct adapters,
    the default) or ``http`` (the in-process ASGI transport, through the callee's chassis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", AGORA_ACCESS_LOG="false", AGORA_DIRECT_CALLS=str(calls == "direct").lower())
    port = free_port()
    argv = [sys.executable, "-m", "agora", "up", "--port", str(port), "--data-dir", str(work / mode)]
    databases: list[str] = []
    if mode == "distributed":
        from agora.platform.testing.scratch import create_database

        for name in service_names():
            url = asyncio.run(create_database(POSTGRES_URL, "postgresql"))
            databases.append(url)
            env[f"AGORA_{name.upper()}_DATABASE_URL"] = url
        env.update(AGORA_BROKER_URL=REDIS_URL, AGORA_REDIS_URL=REDIS_URL)
        from agora.platform.testing.processes import free_port_block

        argv += ["--distributed", "--first-service-port", str(free_port_block(len(service_names())))]
    log = (work / f"{mode}.log").open("wb")
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"agora ({mode}) exited; see {log.name}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"agora ({mode}) not ready in {start_timeout:g} s")
        yield base, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):  # already exited (it may have refused to start)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        if databases:
            from agora.platform.testing.scratch import drop_database

            for url in databases:
                asyncio.run(drop_database(POSTGRES_URL, "postgresql", url))


async def shoppers(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    async def one(index: int) -> dict[str, str]:
        email = f"bench-{index}-{uuid.uuid4().hex[:8]}@example.com"
        password = "benchmark passphrase 1"
        await client.post("/api/identity/register", json={"email": email, "password": password, "display_name": "B"})
        login = await client.post("/api/identity/login", json={"email": email, "password": password})
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    return [await one(index) for index in range(count)]  # sequential: argon2 is CPU-bound anyway


async def stocked_products(client: httpx.AsyncClient, deadline_seconds: float = 120) -> list[str]:
    products: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/catalog/products", params=params)).json()
        products += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    deadline = time.monotonic() + deadline_seconds
    skus = [product["sku"] for product in products]
    while time.monotonic() < deadline:  # stock arrives through catalog events, in no promised order
        found = 0
        for start in range(0, len(skus), 100):
            batch = await client.get("/api/inventory/stock", params=[("sku", sku) for sku in skus[start : start + 100]])
            if batch.status_code == 200:
                found += len(batch.json()["items"])
        if found == len(skus):
            return [product["id"] for product in products]
        await asyncio.sleep(0.5)
    raise RuntimeError("inventory never got the seeded stock")


async def load(
    base: str, *, clients: int, duration: float, stock_timeout: float = 120, pid: int | None = None
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        users = await shoppers(client, clients)
        product_ids = await stocked_products(client, stock_timeout)
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        examples: dict[str, str] = {}
        stop_at = time.monotonic() + duration

        async def shop(user: dict[str, str]) -> None:
            rng = random.Random()
            while time.monotonic() < stop_at:
                added = await client.post(
                    "/api/cart/items", json={"product_id": rng.choice(product_ids), "quantity": 1}, headers=user
                )
                if added.status_code not in (200, 201):
                    outcomes[f"cart {added.status_code}"] = outcomes.get(f"cart {added.status_code}", 0) + 1
                    continue
                start = time.perf_counter()
                response = await client.post(
                    "/api/orders/checkout",
                    json={"currency": "USD", "shipping_address": ADDRESS, "card": CARD},
                    headers={**user, "Idempotency-Key": str(uuid.uuid4())},
                )
                elapsed = time.perf_counter() - start
                key = str(response.status_code)
                outcomes[key] = outcomes.get(key, 0) + 1
                if response.status_code != 201:
                    examples.setdefault(key, response.text[:300])
                if response.status_code == 201:
                    latencies.append(elapsed)

        started, cpu_before = time.perf_counter(), cpu_seconds(pid) if pid else 0.0
        await asyncio.gather(*(shop(user) for user in users))
        wall, cpu = time.perf_counter() - started, (cpu_seconds(pid) - cpu_before) if pid else None
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

    return {
        "checkouts": len(latencies),
        "checkouts_per_second": round(len(latencies) / wall, 2),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "outcomes": outcomes,
        "examples": examples,
        "seconds": round(wall, 1),
        # the servers' CPU per paid checkout (with its add-to-cart): robust where wall time is not
        "server_cpu_ms_per_checkout": round(cpu / len(latencies) * 1000, 1) if cpu and latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--url", help="measure an agora that is already running at this base URL instead")
    parser.add_argument("--pid", type=int, help="with --url: the server's process, for its CPU per checkout")
    parser.add_argument(
        "--calls",
        choices=("direct", "http"),
        default="direct",
        help="embedded: service calls through the ports' direct adapters, or over the in-process ASGI transport",
    )
    parser.add_argument(
        "--work-dir", help="keep the data and the logs (<mode>.log) here instead of a temporary directory"
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=300.0,
        help="seconds agora may take to become ready, and inventory to hold the seeded stock (busy machines)",
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if args.url:
        print(json.dumps(asyncio.run(load(args.url, clients=args.clients, duration=args.duration, pid=args.pid))))
        return 0
    with contextlib.ExitStack() as stack:
        tmp = args.work_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="agora-bench-checkout-"))
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for mode in args.modes.split(","):
            with agora(mode, Path(tmp), args.start_timeout, args.calls) as (base, pid):
                started_mib = rss_mib(pid)
                results[mode] = asyncio.run(
                    load(base, clients=args.clients, duration=args.duration, stock_timeout=args.start_timeout, pid=pid)
                )
                results[mode]["rss_mib_after_start"] = started_mib
                results[mode]["rss_mib_after_load"] = rss_mib(pid)
            print(f"{mode:>12}: {json.dumps(results[mode])}", flush=True)
    if "embedded" in results and "distributed" in results and results["embedded"]["checkouts_per_second"]:
        ratio = results["distributed"]["checkouts_per_second"] / results["embedded"]["checkouts_per_second"]
        results["distributed_over_embedded"] = round(ratio, 2)
        print(f"distributed / embedded checkouts per second: {ratio:.2f}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"benchmark": "checkout", "args": vars(args), "results": results, "cpus": os.cpu_count()}
    (RESULTS_DIR / f"checkout-{stamp}.json").write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
