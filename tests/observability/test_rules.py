"""The generated rules: up to date, valid for promtool, every alert tested firing and quiet, every
alert linked to a runbook that exists."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from agora.deploy import observability
from agora.deploy.observability import RULES_DIR, RUNBOOKS, alerts, main
from tests.observability.conftest import prometheus_tool

REPO = RULES_DIR.parents[2]


def test_the_generated_rules_are_up_to_date() -> None:
    assert main(["--check"]) == 0, "run python -m agora.deploy.observability"


def test_the_k8s_component_wraps_the_same_groups() -> None:
    resources = REPO / "deploy" / "k8s" / "components" / "observability" / "resources.yaml"
    (rule,) = [doc for doc in yaml.safe_load_all(resources.read_text()) if doc["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == yaml.safe_load((RULES_DIR / "alerts.yml").read_text())["groups"]


def test_compose_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((RULES_DIR / "prometheus.yml").read_text())
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]


def test_every_alert_has_a_runbook_and_a_firing_and_a_quiet_case() -> None:
    for alert in alerts():
        assert alert.firing is not None and alert.firing.fires, alert.name
        assert alert.quiet is not None and not alert.quiet.fires, alert.name
    rules = [rule for group in observability.rule_groups() for rule in group["rules"] if "alert" in rule]
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url == f"{RUNBOOKS}/{rule['alert']}.md"
        runbook = REPO / "docs" / "runbooks" / f"{rule['alert']}.md"
        assert runbook.read_text().startswith(f"# {rule['alert']} "), runbook
    names = {rule["alert"] for rule in rules}
    assert names >= {
        "AgoraErrorBudgetBurnFast",
        "AgoraErrorBudgetBurnSlow",
        "AgoraOutboxStalled",
        "AgoraConsumerLag",
        "AgoraDeadLetters",
        "AgoraDependencyDown",
        "AgoraRestarting",
    }


def test_the_slo_alerts_pair_long_and_short_windows() -> None:
    burns = [alert for alert in alerts() if alert.name.startswith("AgoraErrorBudgetBurn")]
    assert {(a.labels["slo"], a.labels["sli"]) for a in burns} == {
        (slo, sli) for slo in ("browse", "checkout", "login") for sli in ("availability", "latency")
    }
    for alert in burns:
        windows = ("ratio_rate1h", "ratio_rate5m") if alert.name.endswith("Fast") else ("ratio_rate6h", "ratio_rate30m")
        assert all(window in alert.expr for window in windows) and "\nand\n" in alert.expr, alert.expr


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [prometheus_tool("promtool"), "check", "rules", str(RULES_DIR / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.slow
def test_promtool_unit_tests_every_alert_firing_and_quiet() -> None:
    result = subprocess.run(
        [prometheus_tool("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = yaml.safe_load((RULES_DIR / "alerts_test.yml").read_text())["tests"]
    assert len(tested) == 2 * len(alerts())


def test_the_dashboards_use_the_provisioned_datasources_and_do_not_overlap() -> None:
    grafana = REPO / "deploy" / "observability" / "grafana"
    provisioned = yaml.safe_load((grafana / "provisioning" / "datasources" / "datasources.yaml").read_text())
    datasources = {(source["type"], source["uid"]) for source in provisioned["datasources"]}
    boards = [json.loads(path.read_text()) for path in sorted((grafana / "dashboards").glob("*.json"))]
    assert {board["uid"] for board in boards} == {
        "agora-overview",
        "agora-service-red",
        "agora-checkout",
        "agora-events",
        "agora-slos",
    }
    for board in boards:
        cells = set()
        for panel in board["panels"]:
            assert (panel["datasource"]["type"], panel["datasource"]["uid"]) in datasources, panel["title"]
            assert panel["targets"] and all(target["expr"] for target in panel["targets"]), panel["title"]
            x, y, w, h = (panel["gridPos"][key] for key in ("x", "y", "w", "h"))
            area = {(col, row) for col in range(x, x + w) for row in range(y, y + h)}
            assert not cells & area and x + w <= 24, f"{board['uid']}: {panel['title']} overlaps"
            cells |= area
