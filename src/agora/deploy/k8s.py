"""Writes deploy/k8s/ from the service graph: ``python -m agora.deploy.k8s`` (``--check`` fails when
the committed files differ from what it would write; tests/k8s runs that).

Everything per service or derived from the graph (Deployments, Services, PDBs, HPAs, migration
Jobs, NetworkPolicies, AuthorizationPolicies, KEDA ScaledObjects, routes) is generated, so a new
service or a new call is one line in :mod:`agora.deploy.graph`. Kustomize then puts the pieces
together: ``base/``, ``overlays/{dev,prod}``, ``components/*``. The SealedSecrets are not written
here (their ciphertext is random): :mod:`agora.deploy.seal` writes them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agora.deploy.graph import HTTP_PORT, NODES, Node, Store, http_callees, http_callers

ROOT = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
NAMESPACE = "agora"
IMAGE = "REGISTRY/agora"
#: analytics and recommendations need NumPy and scikit-learn, which the other services never
#: import: they run from a second image built from the same sources, ``agora-ml`` (deploy/docker)
ML_IMAGE = "REGISTRY/agora-ml"
ML_SERVICES = frozenset({"analytics", "recommendations"})
#: the traffic generator runs Locust, which no service imports: a third image, the common one plus
#: the ``loadtest`` extra (``--target agora-loadtest`` in deploy/docker)
LOADTEST_IMAGE = "REGISTRY/agora-loadtest"
#: the backup CronJob runs pg_dump, which no service runs: a fourth image, the common one plus the
#: PostgreSQL and MariaDB clients (``--target agora-ops`` in deploy/docker)
OPS_IMAGE = "REGISTRY/agora-ops"
#: a fixed tag, never "latest"; each deployment sets its own through kustomize ``images:``
IMAGE_TAG = "0.1.0"
PART_OF = {"app.kubernetes.io/part-of": "agora"}
UID = 10001

#: the app finishes requests in flight within AGORA_SHUTDOWN_GRACE_SECONDS after SIGTERM; the
#: preStop sleep first lets endpoints and the mesh stop sending new ones; the rest is a margin
PRESTOP_SECONDS = 5
SHUTDOWN_GRACE_SECONDS = 15
TERMINATION_GRACE_SECONDS = PRESTOP_SECONDS + SHUTDOWN_GRACE_SECONDS + 10

#: the app's own outbound timeout (AGORA_HTTP_TIMEOUT, PlatformSettings.http_timeout); the mesh's
#: per-try timeout equals it and its overall timeout leaves room for one retry
APP_HTTP_TIMEOUT = 5

STORE_PORTS: dict[Store, tuple[str, int]] = {
    Store.postgres: ("postgres", 5432),
    Store.redis: ("redis", 6379),
    Store.kafka: ("kafka", 9092),
    Store.s3: ("minio", 9000),
    Store.smtp: ("mailpit", 1025),
    Store.otlp: ("otel-collector", 4318),
}
#: where the stores are when they are not pods of this namespace (prod: managed services on the
#: private network); the NetworkPolicies allow these ranges on the store's port only
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
INGRESS_NAMESPACES = ("istio-system", "ingress-nginx")
MONITORING_NAMESPACE = "monitoring"
CANARY = "catalog"
#: dev: no mesh, ingress-nginx in front, the policies on (a CNI that enforces them: kind with Calico)
DEV_COMPONENTS = ("ingress-nginx", "network-policies")
PROD_COMPONENTS = ("istio", "keda", "network-policies", "observability")
COMPONENTS = ("istio", "ingress-nginx", "keda", "network-policies", "observability")
INJECT = "sidecar.istio.io~1inject"  # a JSON pointer: "/" is written "~1"

#: what each service's container used when measured (``--measured FIGURES`` writes it): the
#: requests and limits below are derived from it, never written by hand
MEASURED = ROOT / "measured.json"
#: the headroom rule (docs/deploy.md, "Requests and limits"): the memory request is the larger of
#: the resident memory and the working set after a customer journey, plus a quarter, in steps of
#: 16 MiB; the limit is the larger of one and a half times the request and the most the container
#: ever held (start-up and page cache included), in steps of 64 MiB; the CPU request is twice the
#: journey's average, at least 50m, in steps of 10m; the CPU limit is one core, so that start-up
#: (imports, about three CPU-seconds) is not throttled past the startup probe's budget
MEMORY_REQUEST_HEADROOM = 1.25
MEMORY_LIMIT_HEADROOM = 1.5
CPU_REQUEST_HEADROOM = 2.0
CPU_REQUEST_FLOOR_MILLICORES = 50
CPU_LIMIT = "1"


def image_of(node: Node) -> str:
    return f"{ML_IMAGE if node.name in ML_SERVICES else IMAGE}:{IMAGE_TAG}"


def images() -> list[dict[str, str]]:
    """Kustomize ``images:`` entries: set ``newName``/``newTag`` (or ``digest``) per deployment."""
    return [
        {"name": name, "newName": name, "newTag": IMAGE_TAG} for name in (IMAGE, ML_IMAGE, LOADTEST_IMAGE, OPS_IMAGE)
    ]


#: how measured.json is made (docs/deploy.md, "Requests and limits")
MEASURE_COMMAND = (
    "pytest tests/containers/test_kube_play.py (writes var/kube-play-figures.json), then "
    "python -m agora.deploy.k8s --measured var/kube-play-figures.json [earlier runs' copies...]"
)


def record_measurement(figures_files: list[Path]) -> None:
    """measured.json from one or more runs' figures: per service, the highest of each figure (a
    service's memory moves between runs: a child process still running, a cache not yet filled)."""
    runs = [json.loads(path.read_text()) for path in figures_files]
    services: dict[str, dict[str, float]] = {}
    for node in NODES:
        held = [run["services"][node.name] for run in runs if node.name in run["services"]]
        if not held:
            raise SystemExit(f"no figures for {node.name} in {', '.join(map(str, figures_files))}")
        services[node.name] = {key: max(figures[key] for figures in held) for key in held[0]}
    recorded = {
        "measured_at": max(run["measured_at"] for run in runs),
        "source": sorted({run["source"] for run in runs}),
        "runs": len(runs),
        "command": MEASURE_COMMAND,
        "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "services": services,
    }
    MEASURED.write_text(json.dumps(recorded, indent=2) + "\n")
    measured.cache_clear()


@functools.cache
def measured() -> dict[str, Any]:
    figures: dict[str, Any] = json.loads(MEASURED.read_text())
    return figures


def _step(value: float, step: int) -> int:
    return step * max(1, math.ceil(value / step))


def resources(name: str) -> dict[str, dict[str, str]]:
    """Requests and limits of a service's containers from its measured figures (headroom above)."""
    services = measured()["services"]
    if name not in services:
        raise SystemExit(f"no measured figures for {name} in {MEASURED}: measure it (docs/deploy.md)")
    figures = services[name]
    memory = _step(max(figures["rss_mib"], figures["working_set_mib"]) * MEMORY_REQUEST_HEADROOM, 16)
    memory_limit = _step(max(memory * MEMORY_LIMIT_HEADROOM, figures["peak_mib"]), 64)
    cpu = _step(max(figures["cpu_millicores"] * CPU_REQUEST_HEADROOM, CPU_REQUEST_FLOOR_MILLICORES), 10)
    return {
        "requests": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"},
        "limits": {"cpu": CPU_LIMIT, "memory": f"{memory_limit}Mi"},
    }


def labels(name: str, component: str = "service") -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component, **PART_OF}


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def meta(name: str, component: str = "service", **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": labels(name, component), **extra}


def restricted_pod() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container(uid: int = UID) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _scratch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The only writable paths of the image: /tmp and its data directory."""
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, {"name": "data", "emptyDir": {"sizeLimit": "256Mi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/var/lib/agora"}]  # noqa: S108
    return volumes, mounts


def _env_from(node: Node) -> list[dict[str, Any]]:
    return [{"configMapRef": {"name": "agora-config"}}]


def _secret_volume(node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's secrets as files (AGORA_SECRETS_DIR), never as environment variables."""
    sources = [{"secret": {"name": "agora-platform"}}]
    if node.owns_database:
        sources.append({"secret": {"name": f"agora-{node.name}-db"}})
    if Store.s3 in node.stores:
        sources.append({"secret": {"name": "agora-s3"}})
    if Store.smtp in node.stores:
        sources.append({"secret": {"name": "agora-smtp"}})
    volume = {"name": "secrets", "projected": {"defaultMode": 0o440, "sources": sources}}
    return volume, {"name": "secrets", "mountPath": "/run/secrets/agora", "readOnly": True}


def _container(node: Node, args: list[str], *, probes: bool) -> dict[str, Any]:
    _, mounts = _scratch()
    _, secret_mount = _secret_volume(node)
    container: dict[str, Any] = {
        "name": "agora",
        "image": image_of(node),
        "imagePullPolicy": "Always",
        "args": args,
        "envFrom": _env_from(node),
        # a migration imports the same service and runs its own queries: the service's figures
        "resources": resources(node.name),
        "securityContext": restricted_container(),
        "volumeMounts": [*mounts, secret_mount],
    }
    if probes:
        container["ports"] = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
        http = {"path": "/healthz", "port": "http"}
        container["startupProbe"] = {"httpGet": http, "periodSeconds": 2, "failureThreshold": 60}
        container["livenessProbe"] = {"httpGet": http, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
        container["readinessProbe"] = {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        }
        container["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sleep", str(PRESTOP_SECONDS)]}}}
    return container


def _pod_spec(node: Node, container: dict[str, Any], **extra: Any) -> dict[str, Any]:
    volumes, _ = _scratch()
    secret_volume, _ = _secret_volume(node)
    return {
        "serviceAccountName": node.name,
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(),
        "containers": [container],
        "volumes": [*volumes, secret_volume],
        **extra,
    }


def deployment(node: Node, *, name: str | None = None, version: str = "v1") -> dict[str, Any]:
    name = name or node.name
    pod_labels = {**labels(node.name), "version": version}
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(node.name)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    container = _container(node, ["serve", node.name, "--no-migrate", "--port", str(HTTP_PORT)], probes=True)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": pod_labels},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {**selector(node.name), "version": version}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(HTTP_PORT)},
                },
                "spec": _pod_spec(
                    node,
                    container,
                    terminationGracePeriodSeconds=TERMINATION_GRACE_SECONDS,
                    topologySpreadConstraints=spread,
                ),
            },
        },
    }


def migration_job(node: Node) -> dict[str, Any]:
    container = _container(node, ["migrate", node.name], probes=False)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            **meta(f"{node.name}-migrate", "migration"),
            # ArgoCD runs it before the Deployments (wave -1) and again on every sync
            "annotations": {
                "argocd.argoproj.io/sync-wave": "-1",
                "argocd.argoproj.io/hook": "Sync",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            },
        },
        "spec": {
            "backoffLimit": 4,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {
                    "labels": labels(f"{node.name}-migrate", "migration"),
                    "annotations": {"sidecar.istio.io/inject": "false"},
                },
                "spec": _pod_spec(node, container, restartPolicy="OnFailure"),
            },
        },
    }


def service_documents(node: Node) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(node.name),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(node.name),
            "spec": {
                "selector": selector(node.name),
                "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "appProtocol": "http"}],
            },
        },
        deployment(node),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta(node.name),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(node.name)}},
        },
    ]
    if not node.consumes:  # consumers scale on their lag (components/keda), the rest on CPU
        docs.append(hpa(node.name))
    if node.owns_database:
        docs.append(migration_job(node))
    return docs


def hpa(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def config_map() -> dict[str, Any]:
    data = {
        "AGORA_ENVIRONMENT": "production",
        "AGORA_MODE": "distributed",
        "AGORA_SECRETS_DIR": "/run/secrets/agora",
        "AGORA_LOG_JSON": "true",
        "AGORA_SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_SECONDS),
        "AGORA_HTTP_TIMEOUT": str(APP_HTTP_TIMEOUT),
        # the ingress and the mesh's sidecars forward; pod addresses change, so trust the network
        "AGORA_TRUSTED_PROXIES": "*",
        "AGORA_MEDIA_S3_BUCKET": "agora-media",
        "AGORA_MEDIA_S3_PRESIGN": "false",
        **{f"AGORA_SERVICE_URLS__{n.name.upper()}": f"http://{n.name}:{HTTP_PORT}" for n in NODES},
    }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("agora-config", "config"), "data": data}


def traffic_cronjob() -> dict[str, Any]:
    """``agora loadtest`` for a minute every five: the same journeys as on a laptop (browse, search,
    cart, checkout with test cards, support...), so dashboards and alerts always have traffic to
    show. Pages go to the web Service, each API to its own Service (``--service-url``); the report
    lands in the pod's /tmp and the summary in its log."""
    command = [
        "/opt/agora/bin/agora",
        "loadtest",
        "--url",
        f"http://web:{HTTP_PORT}",
        "--service-url",
        f"http://{{service}}:{HTTP_PORT}",
        "--users",
        "5",
        "--spawn-rate",
        "1",
        "--duration",
        "60s",
        "--report-dir",
        "/tmp/reports",  # noqa: S108 - the pod's own emptyDir (the root file system is read-only)
    ]
    container = {
        "name": "traffic",
        "image": f"{LOADTEST_IMAGE}:{IMAGE_TAG}",
        "imagePullPolicy": "Always",
        "command": command,
        # Locust in its own process beside the command, and the report's plots at the end
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "384Mi"}},
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir, as above
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta("traffic-generator", "traffic"),
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 240,
                    "template": {
                        "metadata": {
                            "labels": labels("traffic-generator", "traffic"),
                            "annotations": {"kubectl.kubernetes.io/default-container": "traffic"},
                        },
                        "spec": {
                            "serviceAccountName": "traffic-generator",
                            "automountServiceAccountToken": False,
                            "restartPolicy": "Never",
                            "securityContext": restricted_pod(),
                            "containers": [container],
                            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                        },
                    },
                }
            },
        },
    }


#: the nightly ``agora backup`` (docs/operations.md, "Backups and restore")
BACKUP = "agora-backup"


def backup_documents() -> list[dict[str, Any]]:
    """A CronJob running ``agora backup --to /backups`` with every service's configuration and
    secrets (it reads each service's database, the carts in Redis and the media bucket), into the
    PersistentVolumeClaim ``agora-backups``."""
    sources: list[dict[str, Any]] = []
    for node in NODES:  # the union of every service's secret files
        for source in _secret_volume(node)[0]["projected"]["sources"]:
            if source not in sources:
                sources.append(source)
    volumes, mounts = _scratch()
    volumes += [
        {"name": "secrets", "projected": {"defaultMode": 0o440, "sources": sources}},
        {"name": "backups", "persistentVolumeClaim": {"claimName": "agora-backups"}},
    ]
    mounts += [
        {"name": "secrets", "mountPath": "/run/secrets/agora", "readOnly": True},
        {"name": "backups", "mountPath": "/backups"},
    ]
    container = {
        "name": "backup",
        "image": f"{OPS_IMAGE}:{IMAGE_TAG}",
        "imagePullPolicy": "Always",
        "args": ["backup", "--to", "/backups"],
        "envFrom": [{"configMapRef": {"name": "agora-config"}}],
        # not measured: the command holds one store's rows or objects at a time
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": restricted_container(),
        "volumeMounts": mounts,
    }
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(BACKUP, "backup"),
        "spec": {
            "schedule": "15 3 * * *",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 1,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {
                            "labels": labels(BACKUP, "backup"),
                            "annotations": {"kubectl.kubernetes.io/default-container": "backup"},
                        },
                        "spec": {
                            "serviceAccountName": BACKUP,
                            "automountServiceAccountToken": False,
                            "restartPolicy": "Never",
                            "securityContext": restricted_pod(),
                            "containers": [container],
                            "volumes": volumes,
                        },
                    },
                }
            },
        },
    }
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta("agora-backups", "backup"),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}},
    }
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(BACKUP, "backup"),
        "automountServiceAccountToken": False,
    }
    return [account, claim, cronjob]


def kustomization(resources: Iterable[str] = (), *, component: bool = False, **extra: Any) -> dict[str, Any]:
    head = (
        {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component"}
        if component
        else {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    )
    return {**head, **({"resources": list(resources)} if resources else {}), **extra}


def base() -> dict[str, Any]:
    files: dict[str, Any] = {"config.yaml": [config_map()]}
    for node in NODES:
        files[f"services/{node.name}.yaml"] = service_documents(node)
    traffic_sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta("traffic-generator", "traffic"),
        "automountServiceAccountToken": False,
    }
    files["traffic.yaml"] = [traffic_sa, traffic_cronjob()]
    files["backup.yaml"] = backup_documents()
    files["kustomization.yaml"] = kustomization(
        [*files, "secrets"],
        namespace=NAMESPACE,
        labels=[{"pairs": PART_OF, "includeSelectors": False}],
        images=images(),
    )
    return files


def _pod_selector(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": selector(name)}}


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _store_egress(store: Store) -> dict[str, Any]:
    app, port = STORE_PORTS[store]
    peers = [_pod_selector(app), *({"ipBlock": {"cidr": cidr}} for cidr in PRIVATE_RANGES)]
    ports = [{"protocol": "TCP", "port": port}]
    if store is Store.s3:  # a managed object store answers on HTTPS
        ports.append({"protocol": "TCP", "port": 443})
    return {"to": peers, "ports": ports}


def network_policies() -> list[dict[str, Any]]:
    http = [{"protocol": "TCP", "port": HTTP_PORT}]
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("default-deny", "network-policy"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("cluster-dns-and-mesh", "network-policy"),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                    # the sidecars' control plane (xDS, certificates) when the mesh is on
                    {"to": [_namespace("istio-system")], "ports": [{"protocol": "TCP", "port": 15012}]},
                ],
            },
        },
    ]
    for node in NODES:
        ingress = [{"from": [_pod_selector(c) for c in sorted(http_callers(node.name))], "ports": http}]
        if node.public:
            ingress.append({"from": [_namespace(ns) for ns in INGRESS_NAMESPACES], "ports": http})
        ingress.append({"from": [_namespace(MONITORING_NAMESPACE)], "ports": http})  # /metrics
        if node.public:  # the traffic generator walks the shop's pages and public APIs
            ingress.append({"from": [_pod_selector("traffic-generator")], "ports": http})
        egress = [{"to": [_pod_selector(c)], "ports": http} for c in sorted(http_callees(node.name))]
        egress += [_store_egress(store) for store in sorted(node.stores)]
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta(node.name, "network-policy"),
                "spec": {
                    "podSelector": {"matchLabels": selector(node.name)},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [rule for rule in ingress if rule["from"]],
                    "egress": egress,
                },
            }
        )
    for job in (n for n in NODES if n.owns_database):  # a migration reaches its database only
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta(f"{job.name}-migrate", "network-policy"),
                "spec": {
                    "podSelector": {"matchLabels": selector(f"{job.name}-migrate")},
                    "policyTypes": ["Ingress", "Egress"],
                    "egress": [_store_egress(Store.postgres)],
                },
            }
        )
    for store, (app, port) in sorted(STORE_PORTS.items()):  # dev's in-cluster stores: from Agora's pods only
        if store is not Store.otlp:
            docs.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": meta(f"store-{app}", "network-policy"),
                    "spec": {
                        "podSelector": {"matchLabels": selector(app)},
                        "policyTypes": ["Ingress", "Egress"],
                        "ingress": [
                            {
                                "from": [{"podSelector": {"matchLabels": PART_OF}}],
                                "ports": [{"protocol": "TCP", "port": port}],
                            }
                        ],
                    },
                }
            )
    docs.append(  # the backup reads every store a service keeps state in
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(BACKUP, "network-policy"),
            "spec": {
                "podSelector": {"matchLabels": selector(BACKUP)},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [_store_egress(store) for store in (Store.postgres, Store.redis, Store.s3)],
            },
        }
    )
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("traffic-generator", "network-policy"),
            "spec": {
                "podSelector": {"matchLabels": selector("traffic-generator")},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [{"to": [_pod_selector(n.name) for n in NODES if n.public], "ports": http}],
            },
        }
    )
    return docs


def _principal(service_account: str) -> str:
    return f"cluster.local/ns/{NAMESPACE}/sa/{service_account}"


def istio() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": meta("default", "mesh"),
            "spec": {"mtls": {"mode": "STRICT"}},
        },
        # allow-nothing: a workload answers only what an ALLOW rule below names
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": meta("allow-nothing", "mesh"),
            "spec": {},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": meta("agora", "mesh"),
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {
                        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["shop.example.com"],
                        "tls": {"mode": "SIMPLE", "credentialName": "agora-tls"},
                    },
                    {
                        "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                        "hosts": ["shop.example.com"],
                        "tls": {"httpsRedirect": True},
                    },
                ],
            },
        },
    ]
    retries = {"attempts": 2, "perTryTimeout": f"{APP_HTTP_TIMEOUT}s", "retryOn": "connect-failure,refused-stream"}
    routes = []
    for node in NODES:
        if node.name == "web" or not node.public:
            continue
        route: dict[str, Any] = {
            "name": node.name,
            "match": [{"uri": {"prefix": f"/api/{node.name}"}}],
            "route": [{"destination": {"host": node.name, "port": {"number": HTTP_PORT}}}],
        }
        if not node.stateful_streams:  # a WebSocket or an event stream has no overall timeout
            route |= {"timeout": f"{APP_HTTP_TIMEOUT * 3}s", "retries": retries}
        if node.name == CANARY:
            routes.append(
                {
                    "name": "catalog-canary-override",
                    "match": [{"uri": {"prefix": "/api/catalog"}, "headers": {"x-agora-canary": {"exact": "v2"}}}],
                    "route": [{"destination": {"host": CANARY, "subset": "v2", "port": {"number": HTTP_PORT}}}],
                    "timeout": f"{APP_HTTP_TIMEOUT * 3}s",
                    "retries": retries,
                }
            )
            route["route"] = [
                {"destination": {"host": CANARY, "subset": "v1", "port": {"number": HTTP_PORT}}, "weight": 90},
                {"destination": {"host": CANARY, "subset": "v2", "port": {"number": HTTP_PORT}}, "weight": 10},
            ]
        routes.append(route)
    routes.append({"name": "web", "route": [{"destination": {"host": "web", "port": {"number": HTTP_PORT}}}]})
    docs.append(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": meta("agora", "mesh"),
            "spec": {"hosts": ["shop.example.com"], "gateways": ["agora"], "http": routes},
        }
    )
    for node in NODES:
        rule: dict[str, Any] = {
            "host": node.name,
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 200, "connectTimeout": "2s"},
                    "http": {"http1MaxPendingRequests": 256, "maxRequestsPerConnection": 0},
                },
                "outlierDetection": {
                    "consecutive5xxErrors": 5,
                    "interval": "10s",
                    "baseEjectionTime": "30s",
                    "maxEjectionPercent": 50,
                },
                "tls": {"mode": "ISTIO_MUTUAL"},
            },
        }
        if node.name == CANARY:
            rule["subsets"] = [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")]
        docs.append(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": meta(node.name, "mesh"),
                "spec": rule,
            }
        )
        sources = [_principal(c) for c in sorted(http_callers(node.name))]
        rules = [{"from": [{"source": {"principals": sources}}]}] if sources else []
        if node.public:
            rules.append({"from": [{"source": {"namespaces": ["istio-system"]}}]})
        if node.public:
            rules.append({"from": [{"source": {"principals": [_principal("traffic-generator")]}}]})
        # probes are rewritten by the sidecar; /metrics is scraped over plain text by Prometheus
        rules.append({"to": [{"operation": {"paths": ["/healthz", "/readyz", "/metrics"], "methods": ["GET"]}}]})
        docs.append(
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": meta(node.name, "mesh"),
                "spec": {"selector": {"matchLabels": selector(node.name)}, "action": "ALLOW", "rules": rules},
            }
        )
    canary = deployment(next(n for n in NODES if n.name == CANARY), name=f"{CANARY}-v2", version="v2")
    canary["spec"]["replicas"] = 1
    docs.append(canary)
    return docs


def keda() -> list[dict[str, Any]]:
    docs = []
    for node in NODES:
        if not node.consumes:
            continue
        triggers = [
            {
                "type": "kafka",
                "metadata": {
                    "bootstrapServers": "kafka:9092",
                    "consumerGroup": consumption.group,
                    "topic": topic,
                    "lagThreshold": "100",
                    "offsetResetPolicy": "earliest",
                },
            }
            for consumption in node.consumes
            for topic in consumption.topics
        ]
        docs.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": meta(node.name, "autoscaling"),
                "spec": {
                    "scaleTargetRef": {"name": node.name},
                    "minReplicaCount": 2,
                    "maxReplicaCount": 10,
                    "cooldownPeriod": 300,
                    "triggers": [
                        *triggers,
                        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}},
                    ],
                },
            }
        )
    return docs


def ingress_nginx() -> list[dict[str, Any]]:
    paths = [
        {
            "path": f"/api/{n.name}",
            "pathType": "Prefix",
            "backend": {"service": {"name": n.name, "port": {"name": "http"}}},
        }
        for n in NODES
        if n.public and n.name != "web"
    ]
    paths.append({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}})
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": meta("letsencrypt", "tls"),
            "spec": {
                "acme": {
                    "server": "https://acme-v02.api.letsencrypt.org/directory",
                    "email": "ops@example.com",
                    "privateKeySecretRef": {"name": "letsencrypt-account"},
                    "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
                }
            },
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": meta("agora-tls", "tls"),
            "spec": {
                "secretName": "agora-tls",
                "dnsNames": ["shop.example.com"],
                "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                **meta("agora", "ingress"),
                "annotations": {
                    # WebSockets (support chat) and Server-Sent Events (notifications) stay open:
                    # long read/send timeouts, nothing buffered on the way
                    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
                    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
                    "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
                    "nginx.ingress.kubernetes.io/proxy-body-size": "16m",
                    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
                },
            },
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["shop.example.com"], "secretName": "agora-tls"}],
                "rules": [{"host": "shop.example.com", "http": {"paths": paths}}],
            },
        },
    ]


def promtail_for_pods(compose_config: dict[str, Any]) -> dict[str, Any]:
    """deploy/observability/promtail/promtail.yaml for a cluster: the same stages (JSON fields,
    the ``service`` and ``level`` labels, trace ids as structured metadata, the line's time) after
    a ``cri`` stage instead of ``docker``, on the agora pods' log files found through the API."""
    (job,) = compose_config["scrape_configs"]
    shared = [stage for stage in job["pipeline_stages"] if "docker" not in stage]
    pods = {
        "job_name": "agora-pods",
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {
                "source_labels": ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"],
                "separator": "/",
                "replacement": "/var/log/pods/*$1/*.log",
                "target_label": "__path__",
            },
        ],
        "pipeline_stages": [{"cri": {}}, *shared],
    }
    return {**compose_config, "positions": {"filename": "/run/promtail/positions.yaml"}, "scrape_configs": [pods]}


def log_shipping() -> list[dict[str, Any]]:
    """Loki's and Promtail's configuration (deploy/observability/) as ConfigMaps, for the Loki and
    Promtail a cluster runs (their Helm charts take an existing ConfigMap)."""
    configs = ROOT.parent / "observability"
    loki = (configs / "loki" / "loki.yaml").read_text()
    promtail = promtail_for_pods(yaml.safe_load((configs / "promtail" / "promtail.yaml").read_text()))
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("loki-config", "logging"),
            "data": {"loki.yaml": loki},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("promtail-config", "logging"),
            "data": {"promtail.yaml": yaml.safe_dump(promtail, sort_keys=False)},
        },
    ]


def observability() -> list[dict[str, Any]]:
    alerts_file = ROOT.parent / "observability" / "prometheus" / "alerts.yml"
    groups = yaml.safe_load(alerts_file.read_text())["groups"] if alerts_file.exists() else []
    return [
        *log_shipping(),
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": meta("agora", "monitoring"),
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/component": "service", **PART_OF}},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
            },
        },
        # the alerts of deploy/observability/prometheus/alerts.yml, for the Prometheus Operator
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": meta("agora", "monitoring"),
            "spec": {"groups": groups},
        },
    ]


def argocd() -> list[dict[str, Any]]:
    repo = "https://github.com/example/agora.git"
    return [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "agora", "namespace": "argocd"},
            "spec": {
                "description": "Agora, the shop",
                "sourceRepos": [repo],
                "destinations": [{"server": "https://kubernetes.default.svc", "namespace": NAMESPACE}],
                "clusterResourceWhitelist": [{"group": "cert-manager.io", "kind": "ClusterIssuer"}],
            },
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "agora", "namespace": "argocd"},
            "spec": {
                "project": "agora",
                "source": {"repoURL": repo, "targetRevision": "main", "path": "deploy/k8s/overlays/prod"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                    "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
                },
            },
        },
    ]


def components() -> dict[str, dict[str, Any]]:
    made = {
        "network-policies": network_policies(),
        "istio": istio(),
        "keda": keda(),
        "ingress-nginx": ingress_nginx(),
        "observability": observability(),
    }
    result: dict[str, dict[str, Any]] = {
        name: {"resources.yaml": docs, "kustomization.yaml": kustomization(["resources.yaml"], component=True)}
        for name, docs in made.items()
    }
    # a sidecar in every serving pod and the traffic generator (Kubernetes' native sidecars, on by
    # default since Istio 1.24 on 1.29+, end with the Job); the migrations reach only their database
    result["istio"]["kustomization.yaml"]["patches"] = [
        {
            "target": {"kind": "Deployment"},
            "patch": f"- op: add\n  path: /spec/template/metadata/annotations/{INJECT}\n  value: 'true'\n",
        },
        {
            "target": {"kind": "CronJob"},
            "patch": (
                f"- op: add\n  path: /spec/jobTemplate/spec/template/metadata/annotations/{INJECT}\n  value: 'true'\n"
            ),
        },
    ]
    # the Application lives in ArgoCD's namespace: applied once by hand (docs/deploy.md), it then
    # syncs the prod overlay
    result["argocd"] = {"application.yaml": argocd(), "kustomization.yaml": kustomization(["application.yaml"])}
    return result


def _database_urls(host: str) -> dict[str, str]:
    """One database and one role per service, named after it (the password is a secret file)."""
    return {
        f"AGORA_{n.name.upper()}_DATABASE_URL": f"postgresql+asyncpg://{n.name}@{host}:5432/{n.name}"
        for n in NODES
        if n.owns_database
    }


def overlays() -> dict[str, dict[str, Any]]:
    image = images()
    one_replica = [
        {
            "target": {"kind": "Deployment", "labelSelector": "app.kubernetes.io/component=service"},
            "patch": "- op: replace\n  path: /spec/replicas\n  value: 1\n",
        },
        {
            "target": {"kind": "HorizontalPodAutoscaler"},
            "patch": (
                "- {op: replace, path: /spec/minReplicas, value: 1}\n"
                "- {op: replace, path: /spec/maxReplicas, value: 1}\n"
            ),
        },
        {
            "target": {"kind": "PodDisruptionBudget"},
            "patch": "- op: replace\n  path: /spec/maxUnavailable\n  value: 1\n",
        },
        # a dev shop opens with the demo catalogue, stock and currencies (idempotent on every run)
        {
            "target": {"kind": "Job", "labelSelector": "app.kubernetes.io/component=migration"},
            "patch": "- op: add\n  path: /spec/template/spec/containers/0/args/-\n  value: --seed\n",
        },
    ]
    dev_stores = {
        "AGORA_BROKER_URL": "kafka://kafka:9092",
        "AGORA_REDIS_URL": "redis://redis:6379/0",
        "AGORA_MEDIA_S3_ENDPOINT_URL": "http://minio:9000",
        "AGORA_NOTIFICATIONS_SMTP_HOST": "mailpit",
        "AGORA_NOTIFICATIONS_SMTP_PORT": "1025",
        **_database_urls("postgres"),
    }
    # prod: the stores are managed services outside the cluster; these addresses are the
    # configuration to edit (or patch in an overlay of one's own)
    prod_stores = {
        "AGORA_BROKER_URL": "kafka://kafka.prod.internal:9092",
        "AGORA_REDIS_URL": "rediss://redis.prod.internal:6379/0",
        "AGORA_OTLP_ENDPOINT": "http://otel-collector.monitoring:4318/v1/traces",
        "AGORA_MEDIA_S3_ENDPOINT_URL": "https://s3.prod.internal",
        "AGORA_NOTIFICATIONS_SMTP_HOST": "smtp.prod.internal",
        "AGORA_NOTIFICATIONS_SMTP_PORT": "587",
        "AGORA_NOTIFICATIONS_SMTP_STARTTLS": "true",
        **_database_urls("postgres.prod.internal"),
    }
    merge = {"name": "agora-config", "behavior": "merge"}
    return {
        "dev": {
            "stores.yaml": dev_stores_documents(),
            "kustomization.yaml": kustomization(
                ["../../base", "stores.yaml"],
                namespace=NAMESPACE,
                components=[f"../../components/{c}" for c in DEV_COMPONENTS],
                images=image,
                configMapGenerator=[{**merge, "literals": [f"{k}={v}" for k, v in dev_stores.items()]}],
                patches=one_replica,
                generatorOptions={"disableNameSuffixHash": True},
            ),
        },
        "prod": {
            "kustomization.yaml": kustomization(
                ["../../base"],
                namespace=NAMESPACE,
                components=[f"../../components/{c}" for c in PROD_COMPONENTS],
                images=image,
                configMapGenerator=[{**merge, "literals": [f"{k}={v}" for k, v in prod_stores.items()]}],
                generatorOptions={"disableNameSuffixHash": True},
            ),
        },
    }


#: dev's in-cluster stores: the official images at pinned tags, each run as its own numeric user
DEV_STORES: tuple[tuple[str, str, int, int, list[str], dict[str, str], str], ...] = (
    # name, image, port, uid, args, environment, data path
    (
        "postgres",
        # PostgreSQL 15: the backup's pg_dump (agora-ops: Debian bookworm's client) refuses a newer server
        "postgres:15.10",
        5432,
        UID,
        [],
        {"PGDATA": "/var/lib/postgresql/data/pgdata", "POSTGRES_HOST_AUTH_METHOD": "trust"},
        "/var/lib/postgresql/data",
    ),
    (
        "redis",
        "redis:7.4",
        6379,
        UID,
        # no password on a network the policies reserve to Agora's pods: protected mode would refuse them
        ["redis-server", "--protected-mode", "no", "--appendonly", "yes", "--dir", "/data"],
        {},
        "/data",
    ),
    (
        "kafka",
        "apache/kafka:3.9.0",
        9092,
        UID,
        [],
        {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        },
        "/var/lib/kafka/data",
    ),
    ("minio", "minio/minio:RELEASE.2024-12-18T13-15-44Z", 9000, UID, ["server", "/data"], {}, "/data"),
    (
        "mailpit",
        "axllent/mailpit:v1.21",
        1025,
        UID,
        [],
        # notifications logs in with the agora-smtp secret's credentials: any login is accepted
        {"MP_DATABASE": "/data/mailpit.db", "MP_SMTP_AUTH_ACCEPT_ANY": "true", "MP_SMTP_AUTH_ALLOW_INSECURE": "true"},
        "/data",
    ),
)


#: the dev MinIO's root user and password, read from the agora-s3 secret's keys that media reads
MINIO_CREDENTIALS = {
    "MINIO_ROOT_USER": "AGORA_MEDIA_S3_ACCESS_KEY_ID",
    "MINIO_ROOT_PASSWORD": "AGORA_MEDIA_S3_SECRET_ACCESS_KEY",
}
#: where the dev MinIO finds them as files (MinIO reads ``MINIO_ROOT_USER_FILE`` and
#: ``MINIO_ROOT_PASSWORD_FILE``): secrets as files, never environment values (checkov CKV_K8S_35)
MINIO_SECRETS = "/run/secrets/minio"


def _store_statefulset(
    name: str, image: str, port: int, uid: int, args: list[str], env: dict[str, str], path: str
) -> list[dict[str, Any]]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "store", "containerPort": port}],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 20},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": restricted_container(uid),
        "volumeMounts": [
            {"name": "data", "mountPath": path},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108  (an emptyDir: the root is read-only)
            {"name": "run", "mountPath": "/var/run/postgresql"},
        ],
    }
    if args:
        container["args"] = args
    if name == "minio":  # its root credentials are the ones media signs with: the agora-s3 secret's
        container["env"] += [
            {"name": f"{variable}_FILE", "value": f"{MINIO_SECRETS}/{key}"}
            for variable, key in MINIO_CREDENTIALS.items()
        ]
        container["volumeMounts"].append({"name": "secrets", "mountPath": MINIO_SECRETS, "readOnly": True})
    if name == "postgres":  # one database and one role per service, as in compose
        container["volumeMounts"].append({"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True})
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}, {"name": "run", "emptyDir": {}}]
    if name == "postgres":
        volumes.append({"name": "init", "configMap": {"name": "postgres-init"}})
    if name == "minio":
        secret = {"defaultMode": 0o440, "sources": [{"secret": {"name": "agora-s3"}}]}
        volumes.append({"name": "secrets", "projected": secret})
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(name, "store"),
            "spec": {"selector": selector(name), "ports": [{"name": "store", "port": port, "targetPort": "store"}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(name, "store"),
            "spec": {
                "serviceName": name,
                "replicas": 1,
                "selector": {"matchLabels": selector(name)},
                "template": {
                    "metadata": {"labels": labels(name, "store")},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": {**restricted_pod(), "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid},
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
                    }
                ],
            },
        },
    ]
    return docs


def dev_stores_documents() -> list[dict[str, Any]]:
    init = "\n".join(
        f"CREATE ROLE {n.name} LOGIN; CREATE DATABASE {n.name} OWNER {n.name};" for n in NODES if n.owns_database
    )
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("postgres-init", "store"),
            "data": {"databases.sql": init + "\n"},
        }
    ]
    for store in DEV_STORES:
        docs += _store_statefulset(*store)
    return docs


def render() -> dict[Path, str]:
    """Every generated file, by its path under deploy/k8s, as the text it must have."""
    tree: dict[str, Any] = {f"base/{k}": v for k, v in base().items()}
    for name, files in components().items():
        tree.update({f"components/{name}/{k}": v for k, v in files.items()})
    for name, files in overlays().items():
        tree.update({f"overlays/{name}/{k}": v for k, v in files.items()})
    return {ROOT / path: _dump(content) for path, content in tree.items()}


HEADER = "# Generated by `python -m agora.deploy.k8s` from agora.deploy.graph: edit those, not this file.\n"


def _dump(content: Any) -> str:
    if isinstance(content, str):
        return content
    documents = content if isinstance(content, list) else [content]
    return HEADER + yaml.safe_dump_all(documents, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    # not the module docstring: python -OO (the image's level) drops it
    parser = argparse.ArgumentParser(description="Writes deploy/k8s/ from the service graph.")
    parser.add_argument("--check", action="store_true", help="Fail if a committed file is not what it would write.")
    parser.add_argument(
        "--measured", type=Path, nargs="+", metavar="FIGURES", help="Record runs' figures as measured.json first."
    )
    args = parser.parse_args(argv)
    if args.measured:
        record_measurement(args.measured)
    stale = []
    for path, text in render().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("out of date (run python -m agora.deploy.k8s):", *map(str, stale), sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
