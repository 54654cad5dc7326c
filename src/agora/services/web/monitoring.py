"""The admin console's live view: every service's health and a short memory of its metrics.

The web keeps no data of its own except this cache. A periodic task (``runtime.periodic``) reads every
service's Prometheus metrics each ``WebSettings.metrics_interval`` seconds and keeps the last
``metrics_window`` samples in a ring buffer; the charts are the differences between samples
(request rate, 5xx share, latency percentiles from histogram buckets, paid orders and revenue).
It samples only while the console is watched: a page that reads the charts starts it (with a
sample at once) and it pauses ``WebSettings.metrics_watch_seconds`` after the last such read; the window then
starts afresh with the next view.

* embedded (``platform.service_urls`` empty): every service runs in this process, so the
  in-process registry is read directly;
* distributed: ``GET {url}/metrics`` of each service; a process that does not answer is a gap in
  its lines, never an error of the page.

Health is each service's ``/readyz``: distributed, one probe per service URL; embedded, the
embedded app's root ``/readyz`` (``{"checks": {"<service>.<check>": "ok" | reason}}``) grouped by
service. Charts are drawn on the server as SVG geometry (:func:`line_chart`) for the templates.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agora.platform.http.clients import ServiceClient
from agora.platform.http.tls import tls_context
from agora.platform.settings import PlatformSettings

log = structlog.get_logger(__name__)

REQUESTS = "agora_http_requests_total"
DURATION_BUCKET = "agora_http_request_duration_seconds_bucket"
CHECKOUTS = "agora_orders_checkouts_total"
REVENUE = "agora_orders_revenue_minor_total"
#: the samples the charts read: all a service is asked for (``/metrics?name[]=...``)
CHARTED_SAMPLES = (REQUESTS, DURATION_BUCKET, CHECKOUTS, REVENUE)
PROBE_TIMEOUT = 2.0
QUANTILES = (0.5, 0.95, 0.99)
#: the sample lines (and their ``# HELP``/``# TYPE`` lines) the charts read
_CHARTED = tuple(
    prefix + name
    for prefix in ("", "# HELP ", "# TYPE ")
    for name in (
        "agora_http_requests",
        "agora_http_request_duration_seconds",
        "agora_orders_checkouts",
        "agora_orders_revenue",
    )
)
#: latency percentiles are computed over this many seconds of samples (one interval is too noisy)
LATENCY_SPAN = 10.0


# -- samples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceCounters:
    """One service's cumulative counters at one moment (summed over routes and methods).

    The sampler keeps one per service per interval for the whole window (300 samples of fifteen
    services distributed), so the histogram is held compactly: its bounds, one tuple shared by
    every sample (:func:`_shared_bounds`), and its counts as an array of doubles. Held as
    (bound, count) pairs of float objects in instances with a ``__dict__``, a full window of the
    distributed set took 7.8 MiB of the web's memory; now 2.0 (``tracemalloc``).
    """

    requests: float = 0.0
    errors: float = 0.0
    bounds: tuple[float, ...] = ()
    """Upper bounds of the request duration histogram, sorted, +Inf last."""
    counts: array[float] = field(default_factory=lambda: array("d"))
    """The cumulative count at each bound (never changed once parsed)."""

    @property
    def buckets(self) -> tuple[tuple[float, float], ...]:
        """(upper bound, cumulative count) of the request duration histogram, sorted, +Inf last."""
        return tuple(zip(self.bounds, self.counts, strict=True))


NOTHING_YET = ServiceCounters()


@functools.cache
def _shared_bounds(bounds: tuple[float, ...]) -> tuple[float, ...]:
    """One tuple for each histogram layout (every service has the same one), however many samples."""
    return bounds


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    services: Mapping[str, ServiceCounters]
    paid_orders: float | None = None
    revenue: Mapping[str, float] = field(default_factory=dict)


def _charted_lines(text: str) -> str:
    """Only the lines of the metrics the charts use: a process exports hundreds of samples, and
    parsing them all every interval was most of what an idle ``agora up`` spent (issue 16). A
    service asked for :data:`CHARTED_SAMPLES` answers only those; one that does not know the
    question (an older version, during an upgrade) answers everything."""
    return "\n".join(line for line in text.splitlines() if line.startswith(_CHARTED)) + "\n"


def parse_metrics(texts: Iterable[str], *, at: float, one_process: bool = False) -> Sample:
    """The counters the charts need, from Prometheus text expositions (one per process).

    ``one_process``: every service's metrics are in these texts (embedded), so no checkout
    counted yet means zero paid orders; otherwise that is only known while orders answers.
    """
    requests: dict[str, float] = {}
    errors: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    paid: float | None = None
    revenue: dict[str, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(_charted_lines(text)):
            for sample in family.samples:
                name, labels, value = sample.name, sample.labels, float(sample.value)
                if name == REQUESTS:
                    service = labels.get("service", "")
                    requests[service] = requests.get(service, 0.0) + value
                    if labels.get("status", "").startswith("5"):
                        errors[service] = errors.get(service, 0.0) + value
                elif name == DURATION_BUCKET:
                    per = buckets.setdefault(labels.get("service", ""), {})
                    bound = float(labels.get("le", "+Inf"))
                    per[bound] = per.get(bound, 0.0) + value
                elif name == CHECKOUTS and labels.get("outcome") == "paid":
                    paid = (paid or 0.0) + value
                elif name == CHECKOUTS:
                    paid = paid or 0.0
                elif name == REVENUE and value > 0:  # every currency is exported, at 0 until its first sale
                    currency = labels.get("currency", "")
                    revenue[currency] = revenue.get(currency, 0.0) + value
    names = set(requests) | set(buckets)
    services = {
        name: _counters(requests.get(name, 0.0), errors.get(name, 0.0), buckets.get(name, {})) for name in names if name
    }
    if paid is None and (one_process or "orders" in services):
        paid = 0.0  # nobody has checked out since orders started
    return Sample(at=at, services=services, paid_orders=paid, revenue=revenue)


def _counters(requests: float, errors: float, buckets: Mapping[float, float]) -> ServiceCounters:
    histogram = sorted(buckets.items())
    return ServiceCounters(
        requests=requests,
        errors=errors,
        bounds=_shared_bounds(tuple(bound for bound, _ in histogram)),
        counts=array("d", (count for _, count in histogram)),
    )


def _increase(before: float, after: float) -> float:
    """A counter's increase; a smaller value means the process restarted (counted from zero)."""
    return after - before if after >= before else after


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """``histogram_quantile`` over cumulative bucket counts (linear inside the bucket)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _bucket_increase(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    old = dict(before)
    return [(bound, _increase(old.get(bound, 0.0), count)) for bound, count in after]


# -- series -----------------------------------------------------------------------------------

Point = tuple[float, float | None]


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]

    @property
    def latest(self) -> float | None:
        for _, value in reversed(self.points):
            if value is not None:
                return value
        return None

    @property
    def peak(self) -> float | None:
        return max((value for _, value in self.points if value is not None), default=None)


class Sampler:
    """A ring buffer of samples and the series the charts draw from it (one per web process, on
    its runtime: the periodic task fills it, the admin console's charts read it)."""

    def __init__(
        self, platform: PlatformSettings, *, window: int, interval: float, watch_seconds: float = 600.0
    ) -> None:
        self.platform = platform
        self.interval = interval
        self.watch_seconds = watch_seconds
        self.samples: deque[Sample] = deque(maxlen=window)
        self.taken = 0
        self._lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        self._viewed_at = -math.inf  # time.monotonic() of the last read of the charts

    @property
    def watched(self) -> bool:
        """Whether a console page read the charts in the last ``watch_seconds``."""
        return time.monotonic() - self._viewed_at < self.watch_seconds

    async def viewed(self) -> None:
        """A console page reads the charts: sample from now until ``watch_seconds`` after this.

        Resuming takes a sample at once, so what happens from the view on is a rate in the next
        one, and starts the window afresh after a pause: a rate across the pause would be an
        average over minutes drawn as one point."""
        resuming = not self.watched
        self._viewed_at = time.monotonic()
        if resuming:
            if self.samples and time.time() - self.samples[-1].at > 2 * self.interval:
                self.samples.clear()
            await self.sample()

    async def sample_while_watched(self) -> Sample | None:
        """The periodic task's run: a sample while the console is watched, else nothing."""
        if not self.watched:
            return None
        return await self.sample()

    def _client(self) -> httpx.AsyncClient:
        """One client for every sample, its connections kept alive from one to the next: a client
        made per sample built its pool and opened a connection to every service every interval."""
        if self._http is None:
            urls = self.platform.service_urls.values()
            # the shared TLS context, not a CA bundle loaded per client (see tls_context)
            self._http = httpx.AsyncClient(timeout=PROBE_TIMEOUT, verify=tls_context(*urls))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def sample(self) -> Sample:
        """Reads every service's metrics now and appends the sample."""
        async with self._lock:
            texts = await scrape(self.platform, self._client)
            taken = parse_metrics(texts, at=time.time(), one_process=not self.platform.service_urls)
            self.samples.append(taken)
            self.taken += 1
            return taken

    def _pairs(self) -> list[tuple[Sample, Sample]]:
        samples = list(self.samples)
        return list(itertools.pairwise(samples))

    def service_names(self) -> list[str]:
        """Services that handled requests in the window (even one that stopped since), busiest first."""
        if len(self.samples) < 2:
            return sorted(self.samples[-1].services) if self.samples else []
        moved: dict[str, float] = {}
        for before, after in self._pairs():
            for name, counters in after.services.items():
                handled = _increase(before.services.get(name, NOTHING_YET).requests, counters.requests)
                moved[name] = moved.get(name, 0.0) + handled
        return sorted((name for name, n in moved.items() if n > 0), key=lambda name: (-moved[name], name))

    def request_rates(self) -> list[Series]:
        """Requests per second per service."""
        return [
            self._per_service(name, lambda a, b, dt: _increase(a.requests, b.requests) / dt)
            for name in self.service_names()
        ]

    def error_rates(self) -> list[Series]:
        """Share of responses that were 5xx, per service (a gap when there was no request)."""

        def share(a: ServiceCounters, b: ServiceCounters, _dt: float) -> float | None:
            handled = _increase(a.requests, b.requests)
            return _increase(a.errors, b.errors) / handled if handled > 0 else None

        return [self._per_service(name, share) for name in self.service_names()]

    def _per_service(
        self, name: str, value: Callable[[ServiceCounters, ServiceCounters, float], float | None]
    ) -> Series:
        points: list[Point] = []
        for before, after in self._pairs():
            dt = after.at - before.at
            # absent before: no request had been counted yet (or the process restarted): zeros;
            # absent now: the service did not answer this sample, a gap
            a, b = before.services.get(name, NOTHING_YET), after.services.get(name)
            points.append((after.at, value(a, b, dt) if b is not None and dt > 0 else None))
        return Series(name, points)

    def latencies(self, name: str) -> list[Series]:
        """p50/p95/p99 (seconds) of one service, each over the last :data:`LATENCY_SPAN` seconds."""
        samples = list(self.samples)
        span = max(1, round(LATENCY_SPAN / self.interval))
        lines: dict[float, list[Point]] = {q: [] for q in QUANTILES}
        for index in range(1, len(samples)):
            before, after = samples[max(0, index - span)], samples[index]
            a, b = before.services.get(name, NOTHING_YET), after.services.get(name)
            increase = _bucket_increase(a.buckets, b.buckets) if b is not None else []
            for q in QUANTILES:
                lines[q].append((after.at, quantile(q, increase)))
        return [Series(f"p{round(q * 100)}", points) for q, points in lines.items()]

    def orders(self) -> tuple[Series, list[Series]]:
        """Paid orders in the last minute, and revenue in the last minute per currency (major units).

        Each point counts what the counters gained over the minute before it (or since the oldest
        sample, while fewer than a minute's samples exist), unscaled: one order is 1, for a
        minute. Scaling one sampling interval up to a minute drew a single order as a spike of 30.
        """
        paid: list[Point] = []
        currencies = sorted({c for s in self.samples for c in s.revenue} or {"USD"})
        revenue: dict[str, list[Point]] = {c: [] for c in currencies}
        samples = list(self.samples)
        for index, after in enumerate(samples[1:], start=1):
            window = [s for s in samples[:index] if after.at - s.at <= _MINUTE] or [samples[index - 1]]
            known = [s for s in [*window, after] if s.paid_orders is not None]
            ok = after.paid_orders is not None and len(known) > 1
            paid.append((after.at, _gained([s.paid_orders or 0.0 for s in known]) if ok else None))
            for currency in currencies:
                amounts = [s.revenue.get(currency) or 0.0 for s in known]
                major = _gained(amounts) / 10 ** _exponent(currency) if ok else None
                revenue[currency].append((after.at, major))
        return Series("paid orders", paid), [Series(c, points) for c, points in revenue.items()]


_MINUTE = 60.0


def _gained(values: Sequence[float]) -> float:
    """What a counter gained over consecutive readings (a restart counts from zero again)."""
    return sum(_increase(a, b) for a, b in itertools.pairwise(values))


def _exponent(currency: str) -> int:
    """Minor units per major unit of ``currency``: ¥ have none, the others here 2."""
    return 0 if currency.upper() in ("JPY", "KRW", "VND", "CLP", "ISK", "HUF") else 2


async def scrape(platform: PlatformSettings, client: Callable[[], httpx.AsyncClient]) -> list[str]:
    """Every service's charted metrics as exposition text (embedded: this process's registry;
    distributed: each service's ``/metrics``, through ``client()``)."""
    urls = platform.service_urls
    if not urls:  # only the charted metrics: rendering the whole registry every interval cost more
        return [generate_latest(REGISTRY.restricted_registry(CHARTED_SAMPLES)).decode()]
    http = client()
    # and only those from each service: its whole exposition is ~20 KB, fifteen every interval
    wanted = {"name[]": CHARTED_SAMPLES}

    async def one(url: str) -> str:
        try:
            response = await http.get(url.rstrip("/") + "/metrics", params=wanted)
        except httpx.HTTPError:
            return ""  # a process that is down is a gap in its lines
        return response.text if response.status_code == 200 else ""

    return list(await asyncio.gather(*(one(url) for url in sorted(set(urls.values())))))


# -- health -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    service: str
    checks: Mapping[str, str]
    problem: str = ""
    """Empty when ready; else the failing check's text (or why the service did not answer)."""

    @property
    def ok(self) -> bool:
        return not self.problem


def _health(service: str, checks: Mapping[str, Any], fallback: str = "") -> Health:
    states = {str(name): str(state) for name, state in checks.items()}
    failing = [f"{name}: {state}" for name, state in states.items() if state != "ok"]
    problem = "; ".join(failing) or fallback
    return Health(service, states, problem)


async def service_health(platform: PlatformSettings, identity: ServiceClient) -> list[Health]:
    """Every service's readiness, by name; one that does not answer is unhealthy.

    The services are the configured URLs (distributed) or those the embedded app's ``/readyz``
    reports (the web may not import the registry: it would import every service's package), asked
    through ``identity``'s client (any service's would do: they share the embedded app).
    """
    urls = platform.service_urls
    if urls:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, verify=tls_context(*urls.values())) as client:
            return list(await asyncio.gather(*(_probe(client, name, url) for name, url in sorted(urls.items()))))
    try:
        # the client's raw httpx side: a 503 here must not count against identity's circuit breaker
        response = await identity.http.get("/readyz", timeout=PROBE_TIMEOUT * 2)
        flat = _checks(response)
    except (httpx.HTTPError, ValueError) as exc:
        return [Health("agora", {}, f"unreachable: {type(exc).__name__}")]
    grouped: dict[str, dict[str, str]] = {}
    for key, state in flat.items():
        service, _, check = key.partition(".")
        grouped.setdefault(service, {})[check or "ready"] = state
    return [_health(name, checks) for name, checks in sorted(grouped.items())]


async def service_names(platform: PlatformSettings, identity: ServiceClient) -> list[str]:
    """The services of this deployment (for the per-service admin pages)."""
    if platform.service_urls:
        return sorted(platform.service_urls)
    return [health.service for health in await service_health(platform, identity) if health.service != "agora"]


def _checks(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    checks = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict):
        raise ValueError("no checks in the readiness answer")
    return checks


async def _probe(client: httpx.AsyncClient, name: str, url: str) -> Health:
    try:
        response = await client.get(url.rstrip("/") + "/readyz")
        checks = _checks(response)
    except httpx.HTTPError as exc:
        return Health(name, {}, f"unreachable: {type(exc).__name__}")
    except ValueError:
        return Health(name, {}, f"answered {response.status_code} without checks")
    return _health(name, checks, "" if response.status_code == 200 else f"answered {response.status_code}")


# -- chart geometry ---------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36
PALETTE = 10


@dataclass(frozen=True)
class Line:
    name: str
    color: int
    """Index into the stylesheet's palette (``.series-0`` .. ``.series-9``)."""
    segments: list[str]
    """SVG ``points`` strings, one per run of values without a gap."""
    latest: str
    peak: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    x_label: str
    y_label: str
    lines: list[Line]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    summary: str
    """The text alternative: the latest value of each line."""
    bands: list[str] = field(default_factory=list)
    """Polygons (SVG ``points``) shaded under the lines, e.g. a forecast's interval."""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(line.segments for line in self.lines)


def nice_ceiling(value: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least ``value`` (axis maxima)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def compact(value: float) -> str:
    """An axis label that fits its margin: ``950``, ``1.2k``, ``35k``, ``1.5M``."""
    size = abs(value)
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return (
                f"{scaled:.1f}{suffix}".replace(".0" + suffix, suffix) if abs(scaled) < 10 else f"{scaled:.0f}{suffix}"
            )
    return f"{value:,.2f}".rstrip("0").rstrip(".") if size < 10 else f"{value:,.0f}"


def ago(seconds: float) -> str:
    seconds = round(seconds)
    if seconds <= 0:
        return "now"
    return f"-{seconds // 60}m" if seconds >= 120 else f"-{seconds}s"


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    y_label: str,
    x_label: str = "time",
    fmt: Any = "{:.2f}".format,
    x_format: Any = None,
    bands: Sequence[tuple[Series, Series]] = (),
    y_max: float | None = None,
) -> Chart:
    """Points of each series scaled into the plot area; x is time (or any number), y from 0."""
    xs = [x for s in (*series, *(b for pair in bands for b in pair)) for x, _ in s.points]
    ys = [y for s in (*series, *(b for pair in bands for b in pair)) for _, y in s.points if y is not None]
    top_value = y_max if y_max is not None else nice_ceiling(max(ys, default=0.0))
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    span = (x1 - x0) or 1.0
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM

    def px(x: float) -> float:
        return round(left + (x - x0) / span * (right - left), 1)

    def py(y: float) -> float:
        return round(bottom - min(y, top_value) / top_value * (bottom - top), 1)

    lines = []
    for index, s in enumerate(series):
        segments: list[str] = []
        run: list[str] = []
        for x, y in s.points:
            if y is None:
                if run:
                    segments.append(" ".join(run))
                run = []
            else:
                run.append(f"{px(x)},{py(y)}")
        if run:
            segments.append(" ".join(run))
        latest, peak = s.latest, s.peak
        lines.append(
            Line(
                s.name,
                index % PALETTE,
                segments,
                "no data" if latest is None else fmt(latest),
                "no data" if peak is None else fmt(peak),
            )
        )
    polygons = []
    for low, high in bands:
        upper = [f"{px(x)},{py(y)}" for x, y in high.points if y is not None]
        lower = [f"{px(x)},{py(y)}" for x, y in reversed(low.points) if y is not None]
        if upper and lower:
            polygons.append(" ".join(upper + lower))
    y_ticks = [(py(top_value * f), fmt(top_value * f)) for f in (0, 0.5, 1)]
    if x_format is None:
        x_ticks = [(px(x), ago(x1 - x)) for x in (x0, x0 + span / 2, x1)] if xs else []
    else:
        x_ticks = [(px(x), x_format(x)) for x in (x0, x0 + span / 2, x1)] if xs else []
    summary = "; ".join(f"{line.name}: {line.latest} (peak {line.peak})" for line in lines) or "no data yet"
    return Chart(chart_id, title, x_label, y_label, lines, y_ticks, x_ticks, summary, polygons)


__all__ = [
    "Chart",
    "Health",
    "Sample",
    "Sampler",
    "Series",
    "line_chart",
    "parse_metrics",
    "quantile",
    "service_health",
]
