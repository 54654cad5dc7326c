"""The Kubernetes dev overlay (deploy/k8s/overlays/dev) as ``podman kube play`` (podman 4.3) can
run it, for tests/containers/test_kube_play.py.

``kubectl kustomize`` renders the overlay through a kustomization of the test's own: the images
built here (kustomize ``images:``, as a user sets theirs) and a name prefix, so that a run's pods,
volumes and ConfigMaps collide with nothing else on the machine. Then :func:`for_podman`
translates what podman 4.3 cannot play, and nothing else:

- Services: podman has none. Each Service's one pod is reachable by the pod's name on the run's
  network (aardvark-dns), so every address naming a Service (``http://identity:8000``,
  ``@postgres:5432``, the SMTP host...) in the ConfigMaps and the containers' environment is
  pointed at the pod behind it (the Deployment ``x`` plays as the pod ``x-pod-0``);
- StatefulSets: not played; each becomes a Deployment of the same pod template and a
  PersistentVolumeClaim per claim template (named ``<claim>-<statefulset>-0``, as Kubernetes does);
- Jobs: silently ignored by podman; each becomes a Pod of the Job's template (restartPolicy
  OnFailure), played after the stores and waited for like the Job;
- SealedSecrets: no controller decrypts them. Podman 4.3 mounts a Secret's ``data`` without
  decoding it, drops ``stringData`` and crashes on a secret volume without ``optional``, and knows
  no projected volume: so each pod's projected secrets become one ConfigMap volume at the same
  path holding the same keys, with fresh random values (one per key, shared by every pod), and an
  environment variable read from a Secret's key (the dev MinIO's credentials) gets that value;
- emptyDir: podman 4.3 names the volume after the pod's volume name, so every pod with an
  emptyDir ``tmp`` would share one; each is renamed after its pod;
- ``imagePullPolicy: Always``: podman would try to pull the local images from a registry at
  ``localhost``; the images are local, so IfNotPresent;
- left out, podman playing none of them: ServiceAccounts, PodDisruptionBudgets,
  HorizontalPodAutoscalers, NetworkPolicies, the Ingress and cert-manager's objects, and the
  traffic generator's CronJob.

Readiness: podman 4.3 ignores readiness and startup probes, so :meth:`Play.wait_ready` runs each
container's readinessProbe itself (its httpGet or tcpSocket, from the host to the pod's address).
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.containers.engine import ROOT, podman

DEV = ROOT / "deploy" / "k8s" / "overlays" / "dev"
LEFT_OUT = frozenset(
    {
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Ingress",
        "ClusterIssuer",
        "Certificate",
        "CronJob",
        # the backup CronJob's claim (no CronJob is played; the stores' volumes come from their
        # StatefulSets' volumeClaimTemplates)
        "PersistentVolumeClaim",
    }
)
Doc = dict[str, Any]


def render(workdir: Path, *, prefix: str, images: dict[str, str]) -> list[Doc]:
    """The dev overlay through a kustomization of the test's own (``images``: name -> new name:tag)."""
    workdir.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "resources": [os.path.relpath(DEV, workdir)],
        "namePrefix": prefix,
        "images": [
            {"name": name, "newName": new.rpartition(":")[0], "newTag": new.rpartition(":")[2]}
            for name, new in images.items()
        ],
    }
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    kubectl = subprocess.run(
        ["kubectl", "kustomize", str(workdir)], capture_output=True, text=True, timeout=60, check=False
    )
    assert kubectl.returncode == 0, kubectl.stderr
    return [doc for doc in yaml.safe_load_all(kubectl.stdout) if doc]


@dataclass
class Plan:
    """What to play, in order: the stores, then the migrations, then the services."""

    config_maps: list[Doc] = field(default_factory=list)
    stores: list[Doc] = field(default_factory=list)
    migrations: list[Doc] = field(default_factory=list)
    services: list[Doc] = field(default_factory=list)
    #: Service name (unprefixed, as the configuration names it) -> the podman pod behind it
    hosts: dict[str, str] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


def workloads_of(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in ("Deployment", "Pod")]


def pod_name(doc: Doc) -> str:
    """The name podman 4.3 gives the (only) pod of a played document."""
    name: str = doc["metadata"]["name"]
    return name if doc["kind"] == "Pod" else f"{name}-pod-0"


def _pod_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    return spec


def for_podman(docs: Iterable[Doc], *, prefix: str) -> Plan:
    plan = Plan()
    # kustomize prefixes a SealedSecret's name but not the pods' references to the Secret it
    # stands for (a kind it does not know): keyed by the unprefixed name
    sealed = {d["metadata"]["name"].removeprefix(prefix): d for d in docs if d["kind"] == "SealedSecret"}
    values = {
        name: {key: secrets.token_urlsafe(32) for key in d["spec"]["encryptedData"]} for name, d in sealed.items()
    }
    services: list[Doc] = []
    for doc in docs:
        kind = doc["kind"]
        if kind == "ConfigMap":
            plan.config_maps.append(doc)
        elif kind == "Service":
            services.append(doc)
        elif kind == "StatefulSet":
            deployment, claims = _statefulset(doc)
            plan.stores += [*claims, deployment]
        elif kind == "Job":
            plan.migrations.append(_job(doc))
        elif kind == "Deployment":
            plan.services.append(copy.deepcopy(doc))
        elif kind != "SealedSecret":
            assert kind in LEFT_OUT, f"{kind} is neither played nor knowingly left out"
            plan.left_out.append(f"{kind}/{doc['metadata']['name']}")
    workloads = workloads_of(plan.stores + plan.migrations + plan.services)
    for service in services:
        selector = service["spec"]["selector"]
        behind = [w for w in workloads if selector.items() <= _labels(w).items()]
        assert len(behind) == 1, f"Service {service['metadata']['name']} selects {len(behind)} workloads"
        plan.hosts[service["metadata"]["name"].removeprefix(prefix)] = pod_name(behind[0])
        _check_ports(service, behind[0])
    for config in plan.config_maps:
        config["data"] = {key: _point_at_pods(value, plan.hosts) for key, value in config.get("data", {}).items()}
    for workload in workloads:
        _adapt_pod(workload, values, plan, prefix)
    return plan


def _labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = (
        workload["metadata"] if workload["kind"] == "Pod" else workload["spec"]["template"]["metadata"]
    ).get("labels", {})
    return labels


def _check_ports(service: Doc, workload: Doc) -> None:
    """A pod's address stands for the Service only where the Service's port is the container's."""
    exposed = {p["containerPort"] for c in _pod_spec(workload)["containers"] for p in c.get("ports", [])}
    named = {p["name"]: p["containerPort"] for c in _pod_spec(workload)["containers"] for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        target = named.get(port.get("targetPort"), port.get("targetPort", port["port"]))
        assert port["port"] == target and target in exposed, (service["metadata"]["name"], port)


def _statefulset(doc: Doc) -> tuple[Doc, list[Doc]]:
    name = doc["metadata"]["name"]
    template = copy.deepcopy(doc["spec"]["template"])
    claims = []
    for claim in doc["spec"].get("volumeClaimTemplates", []):
        claim_name = f"{claim['metadata']['name']}-{name}-0"
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name},
                "spec": claim["spec"],
            }
        )
        template["spec"].setdefault("volumes", []).append(
            {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
        )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": copy.deepcopy(doc["metadata"]),
        "spec": {"replicas": 1, "selector": doc["spec"]["selector"], "template": template},
    }
    return deployment, claims


def _job(doc: Doc) -> Doc:
    template = copy.deepcopy(doc["spec"]["template"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": doc["metadata"]["name"], "labels": template["metadata"].get("labels", {})},
        "spec": {**template["spec"], "restartPolicy": "OnFailure"},
    }


def _point_at_pods(value: str, hosts: dict[str, str]) -> str:
    """``http://identity:8000``, ``...@postgres:5432/...``, a bare ``mailpit``: the pod's name instead."""
    if value in hosts:
        return hosts[value]
    return re.sub(r"(?<=[/@])([a-z0-9-]+)(?=:\d)", lambda m: hosts.get(m[1], m[1]), value)


def _adapt_pod(workload: Doc, values: dict[str, dict[str, str]], plan: Plan, prefix: str) -> None:
    spec = _pod_spec(workload)
    pod = pod_name(workload)
    renamed = {}
    for volume in spec.get("volumes", []):
        if "emptyDir" in volume:
            renamed[volume["name"]] = volume["name"] = f"{pod}-{volume['name']}"
        elif "projected" in volume:
            files: dict[str, str] = {}
            for source in volume["projected"]["sources"]:
                files |= values[source["secret"]["name"].removeprefix(prefix)]
            config = f"{pod}-{volume['name']}"
            plan.config_maps.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": config}, "data": files}
            )
            volume.pop("projected")
            volume["configMap"] = {"name": config}
    for container in spec["containers"]:
        _unpublish(container)
        container["imagePullPolicy"] = "IfNotPresent"
        for mount in container.get("volumeMounts", []):
            mount["name"] = renamed.get(mount["name"], mount["name"])
        for variable in container.get("env", []):
            if "value" in variable:
                variable["value"] = _point_at_pods(variable["value"], plan.hosts)
            elif "secretKeyRef" in variable.get("valueFrom", {}):  # the same random value the pods mount
                ref = variable.pop("valueFrom")["secretKeyRef"]
                variable["value"] = values[ref["name"].removeprefix(prefix)][ref["key"]]


def _unpublish(container: Doc) -> None:
    """Podman 4.3 publishes every containerPort on the host (as if it were a hostPort): the ports
    go, each probe naming one gets its number (the pods reach each other on the run's network)."""
    ports = {p["name"]: p["containerPort"] for p in container.pop("ports", []) if "name" in p}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        for action in ("httpGet", "tcpSocket"):
            if action in container.get(kind, {}):
                target = container[kind][action]
                target["port"] = ports.get(target["port"], target["port"])


@dataclass
class Play:
    """One run's pods on a network of its own; :meth:`down` removes all it made."""

    prefix: str
    folder: Path
    log: Path
    played: list[Path] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"{self.prefix}net"

    def create_network(self) -> None:
        podman("network", "create", self.network)

    def play(self, stage: str, documents: list[Doc], config_maps: list[Doc]) -> None:
        path = self.folder / f"{stage}.yaml"
        path.write_text(yaml.safe_dump_all([*config_maps, *documents], sort_keys=False))
        self.played.append(path)
        result = podman("kube", "play", "--network", self.network, str(path), timeout=600, check=False)
        with self.log.open("a") as out:
            out.write(f"$ podman kube play {path}\n{result.stdout}{result.stderr}\n")
        assert result.returncode == 0, f"podman kube play {stage}: {result.stderr[-3000:]}"

    def address(self, pod: str) -> str:
        infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
        networks = json.loads(podman("inspect", "--format", "{{json .NetworkSettings.Networks}}", infra).stdout)
        address: str = networks[self.network]["IPAddress"]
        return address

    def state(self, container: str) -> Doc:
        state: Doc = json.loads(podman("inspect", "--format", "{{json .State}}", container).stdout)
        return state

    def logs(self, container: str) -> str:
        result = podman("logs", "--tail", "40", container, check=False)
        return (result.stdout + result.stderr)[-4000:]

    def wait_ready(self, workloads: list[Doc], *, within: float) -> None:
        """Every container's readinessProbe passes, run from the host against the pod's address."""
        probes = {}
        for workload in workloads:
            pod = pod_name(workload)
            address = self.address(pod)
            for container in _pod_spec(workload)["containers"]:
                probes[f"{pod}-{container['name']}"] = _probe(address, container)
        pending = set(probes)
        deadline = time.monotonic() + within
        while pending:
            for name in sorted(pending):
                state = self.state(name)
                assert state["Status"] == "running", f"{name} is {state['Status']}:\n{self.logs(name)}"
                if probes[name]():
                    pending.discard(name)
            if pending:
                assert time.monotonic() < deadline, f"not ready within {within:g}s: {sorted(pending)}"
                time.sleep(1)  # other processes' start-up: there is no event to await from here

    def wait_completed(self, pods: list[Doc], *, within: float, retries: int) -> None:
        """Every pod's containers exited 0 (restarted on failure at most ``retries`` times)."""
        pending = {f"{pod_name(p)}-{c['name']}" for p in pods for c in _pod_spec(p)["containers"]}
        deadline = time.monotonic() + within
        while pending:
            for name in sorted(pending):
                state = self.state(name)
                restarts = int(podman("inspect", "--format", "{{.RestartCount}}", name).stdout.strip() or 0)
                assert restarts <= retries, f"{name} failed {restarts} times:\n{self.logs(name)}"
                if state["Status"] == "exited" and state["ExitCode"] == 0:
                    pending.discard(name)
            if pending:
                assert time.monotonic() < deadline, f"not completed within {within:g}s: {sorted(pending)}"
                time.sleep(1)  # as above

    def down(self) -> list[str]:
        """Removes everything the run made; returns what was still left afterwards."""
        for path in reversed(self.played):
            podman("kube", "down", str(path), timeout=300, check=False)
        # the prefix is random and in every name the run made (the claims' as data-<prefix>postgres-0)
        for pod in self._mine("pod"):
            podman("pod", "rm", "--force", pod, timeout=120, check=False)
        for volume in self._mine("volume"):
            podman("volume", "rm", "--force", volume, check=False)
        podman("network", "rm", "--force", self.network, check=False)
        return [f"{kind}:{name}" for kind in ("pod", "volume", "network") for name in self._mine(kind)]

    def _mine(self, kind: str) -> list[str]:
        listed = podman(kind, "ls", "--format", "{{.Name}}", check=False).stdout.split()
        return [name for name in listed if self.prefix in name]


def _probe(address: str, container: Doc) -> Callable[[], bool]:
    probe = container["readinessProbe"]  # its ports are numbers (_unpublish)
    if "httpGet" in probe:
        url = f"http://{address}:{probe['httpGet']['port']}{probe['httpGet']['path']}"

        def answers() -> bool:
            try:
                return 200 <= httpx.get(url, timeout=probe.get("timeoutSeconds", 1)).status_code < 400
            except httpx.HTTPError:
                return False

        return answers

    def connects() -> bool:
        try:
            socket.create_connection((address, probe["tcpSocket"]["port"]), timeout=2).close()
            return True
        except OSError:
            return False

    return connects
