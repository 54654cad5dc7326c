"""Catalog product-by-id throughput of ``agora up`` against two in-memory baselines.

What one run does:

1. starts ``agora up`` (embedded mode, whole chassis: metrics, tracing without an exporter,
   JSON logs with the access log on, request ids) on a free 127.0.0.1 port with a fresh data
   directory (migrated and seeded by ``agora up`` itself), its output going to a log file;
   waits for ``/readyz`` to answer 200, picks the first product of
   ``GET /api/catalog/products?limit=1`` and fetches ``GET /api/catalog/products/<id>``;
2. starts two baselines from ``benchmarks/baselines.py`` that serve THAT body from memory on
   the same stack (uvicorn + uvloop + httptools, one worker, no access log): a bare FastAPI
   endpoint with a response model and a bare Starlette endpoint;
3. loads each server with ``wrk -t1 -c<connections> -d<duration>s --latency`` (a separate
   process) on ``/api/catalog/products/<id>`` and prints requests/s, p50/p99, the ratios
   agora/fastapi and agora/starlette, and the resident memory (VmRSS of the agora process and
   its children) after start-up and after the load; the results also go to
   ``benchmarks/results/<timestamp>.json``.

Fairness (the choice this script makes):

* only one server runs at a time: each is started, warmed up with a ``--warmup`` second wrk
  run (2 s by default; its figures are discarded), measured, and stopped;
* the order is fastapi, agora, starlette: agora runs between the two baselines, so slow drift
  of the machine (thermal, noisy neighbours) shows up as a gap between the two baselines
  rather than as a bias against agora; agora's data directory is created before the first
  measurement (the ``agora up`` start migrates and seeds, which is not measured);
* ``--repeat N`` runs that whole sequence N times and keeps each server's best run (highest
  req/s); the JSON file holds every run;
* the load generator uses one thread (``-t1``): on a 2-core machine that leaves one core for
  the server, which is itself one Python process (one event loop).

Environment: inherited ``AGORA_*`` and ``OTEL_*`` variables are dropped for the agora process,
so it runs with the defaults of development mode (SQLite in the data directory, in-process
broker, JSON logs, access log on, no OTLP exporter), the same every time.

Usage::

    .venv/bin/python benchmarks/catalog_by_id.py [--duration 10] [--connections 32]
        [--data-dir DIR] [--repeat 2] [--min-ratio 0.5] [--agora-url URL [--agora-pid PID]]

``--database postgresql`` measures issue 16's two by-id targets in one run instead, on a scratch
PostgreSQL database (``--postgres-url``'s server; created, migrated and seeded with the catalog's
demo data by ``agora migrate/seed catalog``, dropped at the end), each server alone in turn,
the same wrk settings for all:

* ``fastapi-asyncpg``: ``baselines.py fastapi-asyncpg``, a bare FastAPI endpoint reading the
  same row from the same database through an asyncpg pool of ``--pool-size`` connections;
* ``agora-nocache``: ``agora serve catalog`` on that database, read cache off
  (``AGORA_CATALOG_READ_CACHE_TTL=0``: every request reads the row), pool of ``--pool-size``;
* ``agora-cache``: the same server with the read cache on (the default 5 s);
* ``fastapi``: the bare FastAPI endpoint serving the body from memory.

It prints agora-nocache / fastapi-asyncpg (target 0.5) and agora-cache / fastapi (target 0.8).

``--agora-url`` measures an agora that is already running (then no RSS is reported unless
``--agora-pid`` names its process). Exit status: 0 on success, 1 when ``--min-ratio`` is given
and agora/fastapi is below it, 2 when a server or wrk could not be run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
PRODUCT_PATH = "/api/catalog/products/{id}"
START_TIMEOUT = 120.0  # agora migrates and seeds before it serves
STOP_TIMEOUT = 15.0


class BenchError(Exception):
    """A server or the load generator could not be run; printed as one line, exit 2."""


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(child) for child in fh.read().split())
    return found


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` plus all its descendants, in KiB (None when the process is gone)."""
    total, seen, todo = 0, set(), [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            if current == pid:
                return None
            continue
        todo.extend(_children(current))
    return total


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        # own session: a Ctrl-C in the terminal reaches only this script, which stops the
        # servers itself; the group also lets stop() reach any child the server started
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                status, body = http_get(self.base_url + "/readyz", timeout=2.0)
                if status == 200:
                    return
                last = f"/readyz answered {status}: {body[:200]!r}"
            except OSError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s ({last}); log {self.log_path}")

    def log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").strip().splitlines()
            return " | ".join(text[-lines:]) or "(empty log)"
        return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process is not None:
            # whatever the server left in its group (it should have stopped its own children)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


# --- load -----------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    def grab(pattern: str) -> re.Match[str] | None:
        return re.search(pattern, output, re.MULTILINE)

    rps = grab(r"^Requests/sec:\s+([\d.]+)")
    p50 = grab(r"^\s+50%\s+(\S+)")
    p99 = grab(r"^\s+99%\s+(\S+)")
    total = grab(r"^\s+(\d+) requests in ([\d.]+\w+)")
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot parse wrk output: {output[-400:]!r}")
    non_2xx = grab(r"Non-2xx or 3xx responses:\s+(\d+)")
    errors = grab(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    return {
        "requests_per_s": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def run_wrk(url: str, *, connections: int, duration: float) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", url]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {duration + 30:g} s") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    result = parse_wrk(done.stdout)
    result["command"] = " ".join(argv)
    return result


# --- one measurement ------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    round: int
    url: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    command: str
    rss_start_kib: int | None = None
    rss_after_kib: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and its descendants so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            if current == pid:
                return None
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        todo.extend(_children(current))
    return total


def loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def _lines(path: Path | None) -> int | None:
    if path is None:
        return None
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return None


def measure(
    target: str, round_: int, url: str, args: argparse.Namespace, pid: int | None, log_path: Path | None = None
) -> Run:
    rss_start = rss_kib(pid) if pid else None
    if args.warmup > 0:
        run_wrk(url, connections=args.connections, duration=args.warmup)
    load_before = loadavg()
    cpu_before = cpu_seconds(pid) if pid else None
    lines_before = _lines(log_path)
    result = run_wrk(url, connections=args.connections, duration=args.duration)
    cpu_after = cpu_seconds(pid) if pid else None
    lines_after = _lines(log_path)
    rss_after = rss_kib(pid) if pid else None
    run = Run(target=target, round=round_, url=url, rss_start_kib=rss_start, rss_after_kib=rss_after, **result)
    run.extra["loadavg_1m_before"] = load_before
    run.extra["loadavg_1m_after"] = loadavg()
    if lines_before is not None and lines_after is not None:
        run.extra["log_lines"] = lines_after - lines_before  # the access log is on: ~1 line per request
    if cpu_before is not None and cpu_after is not None:
        # CPU the server spent: requests per CPU-second is less sensitive to other load on the machine
        run.extra["server_cpu_s"] = round(cpu_after - cpu_before, 2)
        if cpu_after > cpu_before:
            run.extra["requests_per_cpu_s"] = round(run.requests / (cpu_after - cpu_before))
    if run.non_2xx or run.socket_errors:
        print(f"  warning: {target}: {run.non_2xx} non-2xx responses, {run.socket_errors} socket errors", flush=True)
    print(
        f"  {target:<9} round {round_}: {run.requests_per_s:>9.0f} req/s  p50 {run.p50_ms:.2f} ms  "
        f"p99 {run.p99_ms:.2f} ms  server CPU {run.extra.get('server_cpu_s', 'n/a')} s  "
        f"load {run.extra['loadavg_1m_before']:.2f}",
        flush=True,
    )
    return run


def agora_env(overrides: list[str] | None = None) -> dict[str, str]:
    """A clean environment (agora's defaults), plus any ``--agora-env KEY=VALUE`` given."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("AGORA_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    for item in overrides or ():
        key, _, value = item.partition("=")
        env[key] = value
    return env


AGORA_ENV_OVERRIDES: list[str] = []


def agora_argv(port: int, data_dir: Path) -> list[str]:
    script = Path(sys.executable).with_name("agora")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "agora"]
    return [*head, "up", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]


def baseline(name: str, body_file: Path, work: Path) -> Server:
    port = free_port()
    argv = [sys.executable, str(HERE / "baselines.py"), name, "--port", str(port), "--body-file", str(body_file)]
    return Server(name=name, argv=argv, port=port, log_path=work / f"{name}.log")


def pick_product(base_url: str) -> tuple[str, bytes]:
    status, body = http_get(base_url + "/api/catalog/products?limit=1")
    if status != 200:
        raise BenchError(f"GET /api/catalog/products?limit=1 answered {status}: {body[:300]!r}")
    items = json.loads(body).get("items") or []
    if not items:
        raise BenchError("the catalog has no products (was it seeded?)")
    product_id = str(items[0]["id"])
    status, product = http_get(base_url + PRODUCT_PATH.format(id=product_id))
    if status != 200:
        raise BenchError(f"GET {PRODUCT_PATH.format(id=product_id)} answered {status}: {product[:300]!r}")
    return product_id, product


def same_body(url: str, body: bytes) -> str:
    status, got = http_get(url)
    if status != 200:
        return f"HTTP {status}"
    if got == body:
        return "identical"
    return "same JSON" if json.loads(got) == json.loads(body) else "DIFFERENT"


# --- the whole run --------------------------------------------------------------------------


POSTGRES_MODE_TARGETS = ("fastapi-asyncpg", "agora-nocache", "agora-cache", "fastapi")
POSTGRES_RATIOS = {"agora-nocache": ("fastapi-asyncpg", 0.5), "agora-cache": ("fastapi", 0.8)}


def _cli(*argv: str, env: dict[str, str], work: Path) -> None:
    head = [sys.executable, "-m", "agora"]
    done = subprocess.run(
        [*head, *argv, "--data-dir", str(work)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"agora {' '.join(argv)} failed: {(done.stderr or done.stdout)[-500:]}")


def benchmark_postgresql(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Issue 16's by-id targets on PostgreSQL: agora's catalog (cache off, on) against bare FastAPI
    reading the same row through asyncpg, and serving it from memory, in one run."""
    import asyncio

    sys.path.insert(0, str(REPO / "src"))
    from agora.platform.testing.scratch import create_database, drop_database

    url = asyncio.run(create_database(args.postgres_url, "postgresql"))
    runs: list[Run] = []
    servers: list[Server] = []
    notes: dict[str, Any] = {"database": url.rsplit("/", 1)[-1], "pool_size": args.pool_size}
    env = agora_env(AGORA_ENV_OVERRIDES)
    env.update(
        AGORA_CATALOG_DATABASE_URL=url,
        AGORA_CATALOG_DATABASE_POOL_SIZE=str(args.pool_size),
    )

    def server_for(target: str, body_file: Path | None) -> Server:
        port = free_port()
        if target.startswith("agora"):
            target_env = dict(env)
            if target == "agora-nocache":
                target_env["AGORA_CATALOG_READ_CACHE_TTL"] = "0"
            argv = [sys.executable, "-m", "agora", "serve", "catalog", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--data-dir", str(work), "--no-migrate"]
            return Server(target, argv, port, work / f"{target}.log", env=target_env)
        assert body_file is not None
        argv = [sys.executable, str(HERE / "baselines.py"), target, "--port", str(port), "--body-file", str(body_file)]
        if target == "fastapi-asyncpg":
            argv += ["--database-url", url, "--pool-size", str(args.pool_size)]
        return Server(target, argv, port, work / f"{target}.log")

    def start(target: str, body_file: Path | None) -> Server:
        server = server_for(target, body_file)
        servers.append(server)
        server.start()
        server.wait_ready(START_TIMEOUT)
        return server

    def stop(server: Server) -> None:
        server.stop()
        servers.remove(server)

    try:
        print(f"migrating and seeding catalog on {notes['database']} ...", flush=True)
        _cli("migrate", "catalog", env=env, work=work)
        _cli("seed", "catalog", env=env, work=work)
        server = start("agora-nocache", None)
        product_id, body = pick_product(server.base_url)
        stop(server)
        body_file = work / "product.json"
        body_file.write_bytes(body)
        path = PRODUCT_PATH.format(id=product_id)
        notes.update(product_id=product_id, body_bytes=len(body))
        print(f"product {product_id} ({len(body)} bytes)", flush=True)
        for round_ in range(1, args.repeat + 1):
            for target in POSTGRES_MODE_TARGETS:
                server = start(target, body_file)
                if not target.startswith("agora"):
                    notes.setdefault(f"{target}_body", same_body(server.base_url + path, body))
                assert server.process is not None
                runs.append(measure(target, round_, server.base_url + path, args, server.process.pid))
                stop(server)
    finally:
        for server in list(servers):
            server.stop()
        asyncio.run(drop_database(args.postgres_url, "postgresql", url))
    return summarize_postgresql(runs, notes, args)


def summarize_postgresql(runs: list[Run], notes: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    best: dict[str, Run] = {}
    for run in runs:
        if run.target not in best or run.requests_per_s > best[run.target].requests_per_s:
            best[run.target] = run
    ratios = {
        f"{target}_over_{base}": best[target].requests_per_s / best[base].requests_per_s
        for target, (base, _) in POSTGRES_RATIOS.items()
    }
    # the same ratios by the servers' own CPU: less sensitive to other load on a shared machine
    for target, (base, _) in POSTGRES_RATIOS.items():
        mine, theirs = best[target].extra.get("requests_per_cpu_s"), best[base].extra.get("requests_per_cpu_s")
        if mine and theirs:
            ratios[f"{target}_over_{base}_by_cpu"] = mine / theirs
    return {
        "benchmark": "catalog_by_id_postgresql",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "git": git_state(),
        "settings": {
            "duration_s": args.duration,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "repeat": args.repeat,
            "wrk_threads": 1,
            "pool_size": args.pool_size,
        },
        "best": {name: asdict(run) for name, run in best.items()},
        "ratios": ratios,
        "notes": notes,
        "runs": [asdict(run) for run in runs],
    }


def print_postgresql_table(result: dict[str, Any]) -> None:
    best, ratios, settings = result["best"], result["ratios"], result["settings"]
    print()
    print(
        f"GET /api/catalog/products/{{id}} on PostgreSQL  wrk -t1 -c{settings['connections']} "
        f"-d{settings['duration_s']:g}s (best of {settings['repeat']}, pool {settings['pool_size']}, "
        f"{result['machine']['cpus']} CPUs)"
    )
    print(f"{'server':<40}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'req/CPU-s':>11}{'errors':>8}")
    labels = {
        "fastapi-asyncpg": "FastAPI + asyncpg (reads the row)",
        "agora-nocache": "agora serve catalog, read cache off",
        "agora-cache": "agora serve catalog, read cache on",
        "fastapi": "FastAPI + response model (memory)",
    }
    for name in POSTGRES_MODE_TARGETS:
        run = best[name]
        per_cpu = run["extra"].get("requests_per_cpu_s", "n/a")
        print(
            f"{labels[name]:<40}{run['requests_per_s']:>10.0f}{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}"
            f"{per_cpu:>11}{run['non_2xx'] + run['socket_errors']:>8}"
        )
    for target, (base, goal) in POSTGRES_RATIOS.items():
        key = f"{target}_over_{base}"
        by_cpu = ratios.get(f"{key}_by_cpu")
        cpu_text = f", by CPU {by_cpu:.2f}" if by_cpu else ""
        print(f"{target} / {base} = {ratios[key]:.2f}{cpu_text}  (target {goal})")
    print(f"agora code: commit {(result['git']['commit'] or 'unknown')[:12]}", end="")
    dirty = result["git"]["src_uncommitted_changes"]
    print(f" + {len(dirty)} uncommitted file(s) under src/" if dirty else " (clean src/)")
    notes = result["notes"]
    bodies = f"fastapi-asyncpg {notes.get('fastapi-asyncpg_body')}, fastapi {notes.get('fastapi_body')}"
    print(f"baseline bodies vs agora's: {bodies}")


def benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    runs: list[Run] = []
    servers: list[Server] = []
    notes: dict[str, Any] = {}
    data_dir = args.data_dir or (work / "agora-data")
    data_dir.mkdir(parents=True, exist_ok=True)

    def start_agora() -> tuple[str, int | None, Server | None]:
        if args.agora_url:
            return args.agora_url.rstrip("/"), args.agora_pid, None
        port = free_port()
        server = Server(
            "agora", agora_argv(port, data_dir), port, work / "agora.log", env=agora_env(AGORA_ENV_OVERRIDES)
        )
        servers.append(server)
        server.start()
        server.wait_ready(START_TIMEOUT)
        assert server.process is not None
        return server.base_url, server.process.pid, server

    def stop(server: Server | None) -> None:
        if server is not None:
            server.stop()
            servers.remove(server)

    try:
        # the body: fetched once from agora (the first start also migrates and seeds)
        print("starting agora to pick a product ...", flush=True)
        t0 = time.monotonic()
        base, _, server = start_agora()
        notes["agora_first_start_s"] = round(time.monotonic() - t0, 2)
        product_id, body = pick_product(base)
        stop(server)
        body_file = work / "product.json"
        body_file.write_bytes(body)
        path = PRODUCT_PATH.format(id=product_id)
        notes.update(product_id=product_id, body_bytes=len(body))
        print(f"product {product_id} ({len(body)} bytes)", flush=True)

        for round_ in range(1, args.repeat + 1):
            for target in ("fastapi", "agora", "starlette"):
                if target == "agora":
                    base, pid, server = start_agora()
                    log_path = server.log_path if server is not None else None
                    runs.append(measure("agora", round_, base + path, args, pid, log_path))
                    stop(server)
                    continue
                server = baseline(target, body_file, work)
                servers.append(server)
                server.start()
                server.wait_ready(30)
                notes.setdefault(f"{target}_body", same_body(server.base_url + path, body))
                assert server.process is not None
                runs.append(measure(target, round_, server.base_url + path, args, server.process.pid))
                stop(server)
    finally:
        for server in list(servers):
            server.stop()
    return summarize(runs, notes, args)


def git_state() -> dict[str, Any]:
    """The commit measured and whether the working tree differed from it (others may be editing)."""

    def git(*argv: str) -> str:
        try:
            done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout

    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "HEAD").strip() or None, "src_uncommitted_changes": changed}


def summarize(runs: list[Run], notes: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    best: dict[str, Run] = {}
    for run in runs:
        if run.target not in best or run.requests_per_s > best[run.target].requests_per_s:
            best[run.target] = run
    agora, fastapi, starlette = best["agora"], best["fastapi"], best["starlette"]
    return {
        "benchmark": "catalog_by_id",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "git": git_state(),
        "settings": {
            "duration_s": args.duration,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "repeat": args.repeat,
            "wrk_threads": 1,
            "agora_url": args.agora_url,
        },
        "best": {name: asdict(run) for name, run in best.items()},
        "ratios": {
            "agora_over_fastapi": agora.requests_per_s / fastapi.requests_per_s,
            "agora_over_starlette": agora.requests_per_s / starlette.requests_per_s,
        },
        "agora_rss_kib": {"after_start": agora.rss_start_kib, "after_load": agora.rss_after_kib},
        "notes": notes,
        "runs": [asdict(run) for run in runs],
    }


def _mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def print_table(result: dict[str, Any]) -> None:
    best, ratios, settings = result["best"], result["ratios"], result["settings"]
    print()
    print(
        f"GET /api/catalog/products/{{id}}  wrk -t1 -c{settings['connections']} -d{settings['duration_s']:g}s "
        f"(best of {settings['repeat']}, {result['machine']['cpus']} CPUs)"
    )
    print(f"{'server':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'req/CPU-s':>11}{'errors':>8}")
    labels = {
        "agora": "agora up (whole chassis)",
        "fastapi": "FastAPI + response model (memory)",
        "starlette": "Starlette, bytes (memory)",
    }
    for name in ("agora", "fastapi", "starlette"):
        run = best[name]
        errors = run["non_2xx"] + run["socket_errors"]
        per_cpu = run["extra"].get("requests_per_cpu_s", "n/a")
        print(
            f"{labels[name]:<34}{run['requests_per_s']:>10.0f}{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}"
            f"{per_cpu:>11}{errors:>8}"
        )
    print(f"agora / fastapi   = {ratios['agora_over_fastapi']:.2f}")
    print(f"agora / starlette = {ratios['agora_over_starlette']:.2f}")
    rss = result["agora_rss_kib"]
    print(f"agora RSS: {_mib(rss['after_start'])} after start-up, {_mib(rss['after_load'])} after load")
    notes = result["notes"]
    dirty = result["git"]["src_uncommitted_changes"]
    print(f"agora code: commit {(result['git']['commit'] or 'unknown')[:12]}", end="")
    print(f" + {len(dirty)} uncommitted file(s) under src/" if dirty else " (clean src/)")
    print(f"baseline bodies vs agora's: fastapi {notes.get('fastapi_body')}, starlette {notes.get('starlette_body')}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of measured load per run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unmeasured load before each run")
    parser.add_argument("--repeat", type=int, default=2, help="run the sequence N times, keep the best (default 2)")
    parser.add_argument("--data-dir", type=Path, help="agora's data directory (default: a fresh temporary one)")
    parser.add_argument("--agora-url", help="measure an agora already running there instead of starting one")
    parser.add_argument("--agora-pid", type=int, help="with --agora-url: the process whose RSS to report")
    parser.add_argument(
        "--agora-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for agora (repeatable), e.g. AGORA_CATALOG_READ_CACHE_TTL=0 (no read cache)",
    )
    parser.add_argument("--min-ratio", type=float, help="exit 1 when agora/fastapi is below this")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: issue 16's targets (agora serve catalog, cache off and on, against FastAPI + asyncpg "
        "and FastAPI from memory) on a scratch database",
    )
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pool-size", type=int, default=10, help="--database postgresql: each server's pool")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON result goes")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--duration and --connections must be positive, --repeat at least 1, --warmup not negative")
    return args


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    AGORA_ENV_OVERRIDES[:] = args.agora_env
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # a killed benchmark still stops its servers
    work = Path(tempfile.mkdtemp(prefix="agora-bench-"))
    keep_work = False
    try:
        result = benchmark_postgresql(args, work) if args.database == "postgresql" else benchmark(args, work)
    except BenchError as exc:
        keep_work = True
        print(f"error: {exc}\n(logs kept in {work})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    if args.database == "postgresql":
        print_postgresql_table(result)
    else:
        print_table(result)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")
    if args.database == "postgresql":
        return 0
    if args.min_ratio is not None and result["ratios"]["agora_over_fastapi"] < args.min_ratio:
        print(
            f"agora/fastapi {result['ratios']['agora_over_fastapi']:.2f} is below --min-ratio {args.min_ratio}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
