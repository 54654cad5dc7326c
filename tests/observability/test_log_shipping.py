"""Promtail's and Loki's configurations read Agora's log lines as they really are.

Neither ``promtail`` nor ``loki`` is packaged by Debian (its ``loki`` package is a genetics
program), and the project installs binaries from nowhere else, so no test runs them: these tests
check the configurations' structure and, more usefully, run Promtail's stages by hand over lines
that :func:`agora.platform.observability.logging.configure_logging` really writes — if a field the
pipeline reads is renamed in the logs, or a per-request value becomes a label, a test fails.
What only a running Promtail and Loki would show (that they accept every key) is not tested here.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from opentelemetry import trace

from agora.deploy import k8s
from agora.platform.observability.logging import configure_logging, get_logger, write_event
from agora.platform.observability.tracing import configure_tracing

ROOT = Path(__file__).resolve().parents[2]
PROMTAIL = ROOT / "deploy" / "observability" / "promtail" / "promtail.yaml"
LOKI = ROOT / "deploy" / "observability" / "loki" / "loki.yaml"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
COMPONENT = ROOT / "deploy" / "k8s" / "components" / "observability" / "resources.yaml"

#: Stream labels: each a handful of values. A per-request value (trace, span, request id) as a
#: label would make one stream per request, which is what Loki's index cannot afford.
LABELS = {"service", "level"}
LEVELS = {"debug", "info", "warning", "error", "critical"}


def stages(config: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = config["scrape_configs"]
    return list(job["pipeline_stages"])


def stage(config: dict[str, Any], name: str) -> Any:
    (found,) = [each[name] for each in stages(config) if name in each]
    return found


def ship(config: dict[str, Any], line: str) -> tuple[dict[str, str], dict[str, str], datetime | None]:
    """What Promtail makes of one line with ``config``'s json, labels, structured_metadata and
    timestamp stages: the stream's labels, the entry's structured metadata and its time. The
    expressions are plain field names (checked below), for which JMESPath is a key lookup."""
    expressions = stage(config, "json")["expressions"]
    try:
        fields = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}, {}, None  # Promtail's json stage leaves a line that is not JSON alone
    extracted = {name: str(fields[key]) for name, key in expressions.items() if key in fields}
    labels = {name: extracted[name] for name in stage(config, "labels") if name in extracted}
    metadata = {name: extracted[name] for name in stage(config, "structured_metadata") if name in extracted}
    moment = stage(config, "timestamp")
    assert moment["format"] == "RFC3339Nano"
    raw = extracted.get(moment["source"])
    return labels, metadata, datetime.fromisoformat(raw) if raw else None


@pytest.fixture(scope="module")
def promtail() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMTAIL.read_text())
    return config


@pytest.fixture
def agora_lines() -> Iterator[list[str]]:
    """Lines of every kind the platform writes: structlog, a library's stdlib logger, the access
    line's fast path, inside a span and outside, at several levels."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_tracing("agora-tests")
    out = io.StringIO()
    configure_logging(level="DEBUG", json=True, service="orders", stream=out)
    try:
        get_logger("agora.tests").info("order_placed", order_id="o-1")
        with trace.get_tracer("t").start_as_current_span("POST /api/orders/checkout"):
            get_logger("agora.tests").warning("payment_slow", seconds=2.5)
            logging.getLogger("uvicorn.error").error("Exception in ASGI application")
            write_event({"service": "orders", "event": "request", "logger": "agora.access", "status": 201})
        logging.getLogger("aiokafka").debug("joined group")
        yield out.getvalue().splitlines()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_every_agora_line_gets_its_service_and_level_labels_and_its_time(
    promtail: dict[str, Any], agora_lines: list[str]
) -> None:
    assert len(agora_lines) == 5
    shipped = [ship(promtail, line) for line in agora_lines]
    for labels, _, moment in shipped:
        assert labels.keys() == LABELS and labels["service"] == "orders"
        assert labels["level"] in LEVELS
        assert moment is not None and moment.tzinfo is not None
    assert [labels["level"] for labels, _, _ in shipped] == ["info", "warning", "error", "info", "debug"]


def test_trace_ids_are_structured_metadata_never_labels(promtail: dict[str, Any], agora_lines: list[str]) -> None:
    in_span = [ship(promtail, line) for line in agora_lines[1:4]]
    trace_ids = {metadata["trace_id"] for _, metadata, _ in in_span}
    assert len(trace_ids) == 1 and all(len(metadata["span_id"]) == 16 for _, metadata, _ in in_span)
    outside = ship(promtail, agora_lines[0])
    assert outside[1] == {}
    assert set(stage(promtail, "labels")) == LABELS


def test_a_line_that_is_not_json_keeps_only_the_jobs_labels(promtail: dict[str, Any]) -> None:
    assert ship(promtail, "2026-12-04 22:00:00.000 UTC [1] LOG:  checkpoint starting: time") == ({}, {}, None)


def test_the_pipeline_reads_plain_fields_and_pushes_to_loki(promtail: dict[str, Any]) -> None:
    expressions = stage(promtail, "json")["expressions"]
    assert all(isinstance(key, str) and key.isidentifier() for key in expressions.values())
    assert next(iter(stages(promtail)[0])) == "docker"  # the engine's json-file wrapper first
    loki = yaml.safe_load(LOKI.read_text())
    (client,) = promtail["clients"]
    assert client["url"] == f"http://loki:{loki['server']['http_listen_port']}/loki/api/v1/push"


def test_loki_keeps_structured_metadata_and_applies_its_retention() -> None:
    loki = yaml.safe_load(LOKI.read_text())
    (schema,) = loki["schema_config"]["configs"]
    assert (schema["store"], schema["schema"]) == ("tsdb", "v13")  # structured metadata needs both
    assert loki["limits_config"]["allow_structured_metadata"] is True
    assert loki["limits_config"]["retention_period"] and loki["compactor"]["retention_enabled"] is True
    assert loki["auth_enabled"] is False and loki["common"]["replication_factor"] == 1


def test_compose_and_the_cluster_carry_the_same_configuration(promtail: dict[str, Any]) -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, path in (("loki", LOKI), ("promtail", PROMTAIL)):
        assert "observability" in services[name]["profiles"]
        mounts = [volume.split(":")[0] for volume in services[name]["volumes"]]
        assert f"../observability/{path.parent.name}/{path.name}" in mounts
    maps = {
        doc["metadata"]["name"]: doc["data"]
        for doc in yaml.safe_load_all(COMPONENT.read_text())
        if doc and doc["kind"] == "ConfigMap"
    }
    assert maps["loki-config"]["loki.yaml"] == LOKI.read_text()
    cluster = yaml.safe_load(maps["promtail-config"]["promtail.yaml"])
    assert cluster == k8s.promtail_for_pods(promtail)
    assert stages(cluster)[0] == {"cri": {}} and stages(cluster)[1:] == stages(promtail)[1:]
