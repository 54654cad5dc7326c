"""The manifests of deploy/k8s: up to date with the graph, rendered by ``kubectl kustomize`` in
every overlay and component combination, valid against the Kubernetes API (1.30-1.32) and the CRD
schemas, restricted pods everywhere, and policies allowing exactly the declared graph."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agora.deploy import graph, k8s

ROOT = k8s.ROOT
#: the CRD schemas next to the repository (TOOLCHAIN.md: ../shared/schemas), or where AGORA_CRD_SCHEMAS says
SCHEMAS = Path(
    os.environ.get("AGORA_CRD_SCHEMAS")
    or next(
        (str(p) for p in (ROOT.parents[2] / "shared/schemas/crds", Path("/work/shared/schemas/crds")) if p.is_dir()),
        "../shared/schemas/crds",
    )
)
#: custom kinds with no schema in ../shared/schemas/crds (the catalog has ArgoCD's Application only)
UNSCHEMED = {("argoproj.io", "AppProject")}


def _kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl (1.32) is needed to render the manifests (docs/deploy.md)"
    return found


def _render_dir(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [_kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def render(overlay: str, component: str | None = None) -> tuple[dict[str, Any], ...]:
    if component is None:
        return tuple(_render_dir(ROOT / "overlays" / overlay))
    # an overlay with one more component: a kustomization of its own next to the others
    scratch = ROOT / "overlays" / f".test-{overlay}-{component}"
    scratch.mkdir()
    try:
        (scratch / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "namespace": k8s.NAMESPACE,
                    "resources": [f"../{overlay}"],
                    "components": [f"../../components/{component}"],
                }
            )
        )
        return tuple(_render_dir(scratch))
    finally:
        shutil.rmtree(scratch)


#: each overlay alone, and with each component it does not already hold
COMBINATIONS = [("dev", None), ("prod", None)] + [
    (overlay, component)
    for overlay, held in (("dev", k8s.DEV_COMPONENTS), ("prod", k8s.PROD_COMPONENTS))
    for component in k8s.COMPONENTS
    if component not in held
]
CORE_GROUPS = ("v1", "apps", "batch", "policy", "autoscaling", "networking.k8s.io")


def _is_core(doc: dict[str, Any]) -> bool:
    return (doc["apiVersion"].rpartition("/")[0] or "v1") in CORE_GROUPS


def _pods(docs: tuple[dict[str, Any], ...]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for doc in docs:
        spec = doc.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob") and template:
            found.append((f"{doc['kind']}/{doc['metadata']['name']}", template["spec"]))
    return found


def test_the_generated_files_are_up_to_date() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "agora.deploy.k8s", "--check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr


def test_the_sealed_secrets_hold_the_keys_the_services_read() -> None:
    from agora.deploy.seal import SECRETS_DIR, secret_keys

    for name, keys in secret_keys().items():
        doc = yaml.safe_load((SECRETS_DIR / f"{name}.yaml").read_text())
        assert sorted(doc["spec"]["encryptedData"]) == sorted(keys)
        # sealed, not encoded: far longer than the 64 characters of a random value's base64
        assert all(len(value) > 700 for value in doc["spec"]["encryptedData"].values())
    assert not list(ROOT.rglob("*.env")), "no plaintext secret in the repository"


def test_the_dev_minio_takes_the_credentials_media_signs_with() -> None:
    """MinIO's defaults (minioadmin) would refuse every upload signed with the agora-s3 secret."""
    docs = render("dev")
    (minio,) = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "minio"]
    pod = minio["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {v["name"]: v.get("value") for v in container["env"]}
    read_by_media = set(k8s.MINIO_CREDENTIALS.values())
    # as files of the agora-s3 secret (MinIO's *_FILE variables), never as environment values
    files = {env["MINIO_ROOT_USER_FILE"], env["MINIO_ROOT_PASSWORD_FILE"]}
    assert files == {f"{k8s.MINIO_SECRETS}/{key}" for key in read_by_media}
    assert "MINIO_ROOT_USER" not in env and "MINIO_ROOT_PASSWORD" not in env
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == k8s.MINIO_SECRETS]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["projected"]["sources"] == [{"secret": {"name": "agora-s3"}}]
    sealed = next(d for d in docs if d["kind"] == "SealedSecret" and d["metadata"]["name"] == "agora-s3")
    assert read_by_media <= set(sealed["spec"]["encryptedData"])


@pytest.mark.parametrize(("overlay", "component"), COMBINATIONS)
def test_renders(overlay: str, component: str | None) -> None:
    kinds = {doc["kind"] for doc in render(overlay, component)}
    assert {"Deployment", "Service", "ConfigMap", "SealedSecret"} <= kinds


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1.30", "1.31", "1.32"])
def test_core_kinds_validate_strictly(version: str, tmp_path: Path) -> None:
    # every distinct core document of every combination, in one run of the CLI per version (the
    # library loads the schemas per call: one call per document would take minutes)
    unique = {json.dumps(doc, sort_keys=True): doc for combo in COMBINATIONS for doc in render(*combo) if _is_core(doc)}
    stream = tmp_path / "core.yaml"
    stream.write_text(yaml.safe_dump_all(list(unique.values())))
    cli = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run(
        [str(cli), "--strict", "--quiet", "--no-warn", "-k", version, str(stream)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(unique) > 5 * len(graph.NODES)


def _schema_validator(doc: dict[str, Any]) -> jsonschema.Draft7Validator:
    group, _, version = doc["apiVersion"].rpartition("/")
    path = SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"
    assert path.exists(), f"no schema for {doc['apiVersion']} {doc['kind']}"
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


@pytest.mark.parametrize(("overlay", "component"), COMBINATIONS)
def test_custom_resources_validate_against_their_crds(overlay: str, component: str | None) -> None:
    for doc in render(overlay, component):
        if _is_core(doc) or (doc["apiVersion"].rpartition("/")[0], doc["kind"]) in UNSCHEMED:
            continue
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _schema_validator(doc).iter_errors(doc)
        ]
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_argocd_renders_and_validates() -> None:
    for doc in _render_dir(ROOT / "components" / "argocd"):
        if (doc["apiVersion"].rpartition("/")[0], doc["kind"]) not in UNSCHEMED:
            assert not list(_schema_validator(doc).iter_errors(doc))


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_pod_is_restricted(overlay: str) -> None:
    docs = render(overlay)  # prod holds the istio component (its canary Deployment is checked too)
    pods = _pods(docs)
    assert len(pods) > len(graph.NODES)
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert "limits" in container["resources"] and "requests" in container["resources"], name


def test_services_serve_with_probes_and_a_grace_period_longer_than_the_apps() -> None:
    docs = render("prod")
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "agora-config")["data"]
    app_grace = float(config["AGORA_SHUTDOWN_GRACE_SECONDS"])
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {n.name for n in graph.NODES} | {f"{k8s.CANARY}-v2"}
    for name, deployment in deployments.items():
        name = name.removesuffix("-v2")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["args"][:3] == ["serve", name, "--no-migrate"]
        image = "REGISTRY/agora-ml:" if name in k8s.ML_SERVICES else "REGISTRY/agora:"
        assert container["image"].startswith(image), (name, container["image"])
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pod["terminationGracePeriodSeconds"] > pre_stop + app_grace
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    assert set(jobs) == {f"{n.name}-migrate" for n in graph.NODES if n.owns_database}
    for name, job in jobs.items():
        image = job["spec"]["template"]["spec"]["containers"][0]["image"]
        ml = name.removesuffix("-migrate") in k8s.ML_SERVICES
        assert image.startswith("REGISTRY/agora-ml:" if ml else "REGISTRY/agora:"), (name, image)


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10}
    return float(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity) / 2**20


def _millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_requests_hold_the_measured_figures_and_limits_the_requests(overlay: str) -> None:
    measured = k8s.measured()
    assert measured["measured_at"] and measured["command"], "where the figures come from"
    figures = measured["services"]
    assert set(figures) == {n.name for n in graph.NODES}
    checked = 0
    for doc in render(overlay):  # every service's Deployment and migration Job (dev's stores are StatefulSets)
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        service = doc["metadata"]["name"].removesuffix("-migrate").removesuffix("-v2")
        for container in doc["spec"]["template"]["spec"]["containers"]:
            requests, limits = container["resources"]["requests"], container["resources"]["limits"]
            memory, cpu = _mebibytes(requests["memory"]), _millicores(requests["cpu"])
            held = max(figures[service]["rss_mib"], figures[service]["working_set_mib"])
            assert memory >= held, (doc["metadata"]["name"], requests)
            assert _mebibytes(limits["memory"]) >= max(memory, figures[service]["peak_mib"]), (service, limits)
            assert cpu >= figures[service]["cpu_millicores"] and _millicores(limits["cpu"]) >= cpu, (service, limits)
            checked += 1
    assert checked >= 2 * len(graph.NODES)


def _app(selector: dict[str, Any]) -> str | None:
    return selector.get("matchLabels", {}).get("app.kubernetes.io/name")


def test_network_policies_allow_exactly_the_graph() -> None:
    docs = [d for d in render("prod") if d["kind"] == "NetworkPolicy"]
    services = {n.name for n in graph.NODES}
    ingress, egress = set(), set()
    for policy in docs:
        target = _app(policy["spec"]["podSelector"])
        for rule in policy["spec"].get("ingress", []):
            ingress |= {(_app(peer["podSelector"]), target) for peer in rule["from"] if "podSelector" in peer}
        for rule in policy["spec"].get("egress", []):
            egress |= {(target, _app(peer["podSelector"])) for peer in rule.get("to", []) if "podSelector" in peer}
    declared = set(graph.http_edges())
    between_services = {(a, b) for a in services for b in services}
    assert ingress & between_services == declared
    assert egress & between_services == declared
    assert any(
        not p["spec"]["podSelector"]
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and "ingress" not in p["spec"]
        for p in docs
    )


def test_authorization_policies_allow_exactly_the_graph() -> None:
    docs = [d for d in render("prod") if d["kind"] == "AuthorizationPolicy"]
    assert any(d["spec"] == {} for d in docs), "the allow-nothing policy"
    prefix = f"cluster.local/ns/{k8s.NAMESPACE}/sa/"
    allowed = set()
    for policy in docs:
        target = _app(policy["spec"].get("selector", {}))
        for rule in policy["spec"].get("rules", []):
            for source in rule.get("from", []):
                allowed |= {(p.removeprefix(prefix), target) for p in source["source"].get("principals", [])}
    services = {n.name for n in graph.NODES}
    assert {e for e in allowed if e[0] in services} == set(graph.http_edges())


def test_keda_scales_every_consumer_on_its_groups_and_topics() -> None:
    docs = [d for d in render("prod") if d["kind"] == "ScaledObject"]
    found = {
        (d["spec"]["scaleTargetRef"]["name"], t["metadata"]["consumerGroup"], t["metadata"]["topic"])
        for d in docs
        for t in d["spec"]["triggers"]
        if t["type"] == "kafka"
    }
    declared = {(n.name, c.group, t) for n in graph.NODES for c in n.consumes for t in c.topics}
    assert found == declared
    hpas = {d["metadata"]["name"] for d in render("prod") if d["kind"] == "HorizontalPodAutoscaler"}
    assert hpas == {n.name for n in graph.NODES if not n.consumes}
