"""checkov's Kubernetes checks on the rendered overlays: 0 failed, every skip named with its reason
in deploy/k8s/checkov.yaml. checkov lives in its own virtualenv (.venv-checkov, made by
``make test``: its pins fight the app's), so a machine without it fails here rather than skips."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agora.deploy import k8s
from tests.k8s.test_manifests import COMBINATIONS, render

REPO = k8s.ROOT.parents[1]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CONFIG = k8s.ROOT / "checkov.yaml"


@pytest.mark.slow
@pytest.mark.parametrize(("overlay", "component"), [c for c in COMBINATIONS if c in (("dev", None), ("prod", None))])
def test_checkov_finds_nothing(overlay: str, component: str | None, tmp_path: Path) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make test` installs it (python -m venv .venv-checkov ...)"
    import yaml

    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(list(render(overlay, component))))
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CONFIG), "-d", str(tmp_path), "--framework", "kubernetes",
         "--skip-download", "--compact", "--quiet", "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']}"
        for r in reports
        for check in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, failed
    assert sum(r.get("summary", {}).get("passed", 0) for r in reports) > 100
