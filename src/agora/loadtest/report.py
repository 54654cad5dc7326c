"""The report of a load test, from the CSV files Locust wrote into the report directory.

Written next to them:

* ``summary.json``: the run (URL, users, spawn rate, duration), the totals, and per journey and
  per endpoint the requests, failures, throughput and p50/p95/p99 in milliseconds; the errors;
* ``summary.md``: the same as tables (small enough to commit);
* ``timeline.png``: over time, the users and throughput, the response-time percentiles of every
  request, and the p95 of each journey;
* ``report.html``: one page with the tables and the plot embedded; Locust's own interactive page
  is ``locust.html`` beside it.

A journey's percentile is the largest of its endpoints' (Locust keeps percentiles per endpoint):
an upper bound of the journey's own, since at most 1 % of each endpoint's requests are above its
p99, so at most 1 % of all of them are above the largest. Locust rounds a time above 100 ms to two
significant figures, so such percentiles are approximate (to 5 %).
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agora.loadtest.runner import CSV_PREFIX, Plan


@dataclass
class Endpoint:
    method: str
    name: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    average_ms: float
    max_ms: float

    @property
    def journey(self) -> str:
        return self.name.split(" ", 1)[0]


@dataclass
class Journey:
    name: str
    requests: int = 0
    failures: int = 0
    requests_per_second: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class Summary:
    url: str
    users: int
    spawn_rate: float
    duration_seconds: int
    started: str
    requests: int
    failures: int
    exceptions: int
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    journeys: list[Journey] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unexpected_errors(self) -> int:
        return self.failures + self.exceptions


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)


def _largest(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def summarise(directory: Path, plan: Plan, started: str) -> Summary:
    stats = _rows(directory / f"{CSV_PREFIX}_stats.csv")
    endpoints = [
        Endpoint(
            method=row["Type"],
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            requests_per_second=float(row["Requests/s"]),
            p50_ms=_ms(row["50%"]),
            p95_ms=_ms(row["95%"]),
            p99_ms=_ms(row["99%"]),
            average_ms=float(row["Average Response Time"]),
            max_ms=float(row["Max Response Time"]),
        )
        for row in stats
        if row["Name"] != "Aggregated"
    ]
    total = next((row for row in stats if row["Name"] == "Aggregated"), None)
    journeys: dict[str, Journey] = {}
    for endpoint in endpoints:
        journey = journeys.setdefault(endpoint.journey, Journey(endpoint.journey))
        journey.requests += endpoint.requests
        journey.failures += endpoint.failures
        journey.requests_per_second += endpoint.requests_per_second
    for journey in journeys.values():
        mine = [endpoint for endpoint in endpoints if endpoint.journey == journey.name]
        journey.p50_ms = _largest([endpoint.p50_ms for endpoint in mine])
        journey.p95_ms = _largest([endpoint.p95_ms for endpoint in mine])
        journey.p99_ms = _largest([endpoint.p99_ms for endpoint in mine])
    errors: list[dict[str, Any]] = [
        {"method": row["Method"], "name": row["Name"], "error": row["Error"], "occurrences": int(row["Occurrences"])}
        for row in _rows(directory / f"{CSV_PREFIX}_failures.csv")
    ]
    exceptions = _rows(directory / f"{CSV_PREFIX}_exceptions.csv")
    errors += [
        {"method": "", "name": "exception", "error": row["Message"], "occurrences": int(row["Count"])}
        for row in exceptions
    ]
    return Summary(
        url=plan.url,
        users=plan.users,
        spawn_rate=plan.spawn_rate,
        duration_seconds=plan.duration_seconds,
        started=started,
        requests=int(total["Request Count"]) if total else 0,
        failures=int(total["Failure Count"]) if total else 0,
        exceptions=sum(int(row["Count"]) for row in exceptions),
        requests_per_second=float(total["Requests/s"]) if total else 0.0,
        p50_ms=_ms(total["50%"]) if total else None,
        p95_ms=_ms(total["95%"]) if total else None,
        p99_ms=_ms(total["99%"]) if total else None,
        journeys=sorted(journeys.values(), key=lambda journey: -journey.requests),
        endpoints=endpoints,
        errors=errors,
    )


# -- tables ------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def _tables(summary: Summary) -> list[tuple[str, list[str], list[list[object]]]]:
    timing = ["p50 ms", "p95 ms", "p99 ms"]
    return [
        (
            "Run",
            ["URL", "users", "spawn rate /s", "duration s", "requests", "req/s", "errors", *timing],
            [
                [
                    summary.url,
                    summary.users,
                    summary.spawn_rate,
                    summary.duration_seconds,
                    summary.requests,
                    summary.requests_per_second,
                    summary.unexpected_errors,
                    summary.p50_ms,
                    summary.p95_ms,
                    summary.p99_ms,
                ]
            ],
        ),
        (
            "Journeys (percentiles: the largest of the journey's endpoints)",
            ["journey", "requests", "failures", "req/s", *timing],
            [
                [j.name, j.requests, j.failures, j.requests_per_second, j.p50_ms, j.p95_ms, j.p99_ms]
                for j in summary.journeys
            ],
        ),
        (
            "Endpoints",
            ["method", "name", "requests", "failures", "req/s", *timing, "max ms"],
            [
                [
                    e.method,
                    e.name,
                    e.requests,
                    e.failures,
                    e.requests_per_second,
                    e.p50_ms,
                    e.p95_ms,
                    e.p99_ms,
                    e.max_ms,
                ]
                for e in summary.endpoints
            ],
        ),
        (
            "Errors",
            ["method", "name", "error", "occurrences"],
            [[e["method"], e["name"], e["error"], e["occurrences"]] for e in summary.errors] or [["", "none", "", 0]],
        ),
    ]


def _markdown(summary: Summary) -> str:
    lines = [f"# Load test of {summary.url}, {summary.started}", ""]
    for title, header, rows in _tables(summary):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(_cell(value).replace("|", "\\|") for value in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def _html(summary: Summary, plot: Path | None) -> str:
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>Load test of {html.escape(summary.url)}</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}td:nth-child(-n+2){text-align:left}"
        "img{max-width:100%}</style>",
        f"<h1>Load test of {html.escape(summary.url)}</h1><p>Started {html.escape(summary.started)}. "
        "Locust's own page, with interactive charts: <a href=locust.html>locust.html</a>.</p>",
    ]
    if plot is not None:
        encoded = base64.b64encode(plot.read_bytes()).decode("ascii")
        parts.append(
            "<h2>Over time</h2><img alt='throughput and response times over time' "
            f"src='data:image/png;base64,{encoded}'>"
        )
    for title, header, rows in _tables(summary):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>")
        parts += [f"<th>{html.escape(name)}</th>" for name in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>")
        parts.append("</table>")
    return "\n".join(parts) + "\n"


# -- the plot ----------------------------------------------------------------------------------


def _timeline(directory: Path) -> dict[str, Any]:
    """Seconds since the first row; the whole run's users, req/s, failures/s and percentiles; each
    journey's p95 (the largest of its endpoints' in that second)."""
    rows = _rows(directory / f"{CSV_PREFIX}_stats_history.csv")
    if not rows:
        return {}
    first = int(rows[0]["Timestamp"])
    total: dict[str, list[float | None]] = defaultdict(list)
    journeys: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        second = int(row["Timestamp"]) - first
        if row["Name"] == "Aggregated":
            total["t"].append(second)
            total["users"].append(float(row["User Count"]))
            total["rps"].append(float(row["Requests/s"]))
            total["fps"].append(float(row["Failures/s"]))
            for percentile in ("50%", "95%", "99%"):
                total[percentile].append(_ms(row[percentile]))
        elif (p95 := _ms(row["95%"])) is not None and float(row["Requests/s"]) > 0:
            journey = journeys[row["Name"].split(" ", 1)[0]]
            journey[second] = max(journey.get(second, 0.0), p95)
    return {"total": total, "journeys": journeys}


def plot_timeline(directory: Path) -> Path | None:
    """``timeline.png``; None when matplotlib is missing or Locust wrote no history."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series = _timeline(directory)
    if not series:
        return None
    total, journeys = series["total"], series["journeys"]
    figure, (load, latency, per_journey) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    load.plot(total["t"], total["rps"], label="requests/s")
    load.plot(total["t"], total["fps"], label="failures/s", color="tab:red")
    load.set_ylabel("per second")
    users = load.twinx()
    users.plot(total["t"], total["users"], label="users", color="tab:gray", linestyle="--")
    users.set_ylabel("users")
    load.legend(loc="upper left")
    users.legend(loc="upper right")
    load.set_title("Throughput and users")
    for percentile in ("50%", "95%", "99%"):
        points = [(t, v) for t, v in zip(total["t"], total[percentile], strict=True) if v is not None]
        latency.plot([t for t, _ in points], [v for _, v in points], label=f"p{percentile.rstrip('%')}")
    latency.set_ylabel("ms")
    latency.set_title("Response time of every request (last 10 s window)")
    latency.legend(loc="upper left")
    for name, points in sorted(journeys.items()):
        seconds = sorted(points)
        per_journey.plot(seconds, [points[second] for second in seconds], label=name)
    per_journey.set_ylabel("ms")
    per_journey.set_xlabel("seconds since start")
    per_journey.set_title("p95 per journey (its slowest endpoint)")
    per_journey.legend(loc="upper left", ncol=3, fontsize="small")
    figure.tight_layout()
    path = directory / "timeline.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def write_report(directory: Path, plan: Plan, started: str) -> Summary:
    summary = summarise(directory, plan, started)
    document = asdict(summary)
    document["unexpected_errors"] = summary.unexpected_errors
    for endpoint, row in zip(summary.endpoints, document["endpoints"], strict=True):
        row["journey"] = endpoint.journey
    (directory / "summary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (directory / "summary.md").write_text(_markdown(summary), encoding="utf-8")
    plot = plot_timeline(directory)
    (directory / "report.html").write_text(_html(summary, plot), encoding="utf-8")
    return summary


__all__ = ["Endpoint", "Journey", "Summary", "plot_timeline", "summarise", "write_report"]
