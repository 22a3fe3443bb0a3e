"""Render helm/jobwatch offline with the real Helm v4 engine and hand back parsed manifests."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from jobwatch.render.paths import repo_root
from tests.tools import unavailable

ROOT = repo_root()
CHART_DIR = ROOT / "helm" / "jobwatch"
RELEASE = "jobwatch"
NAMESPACE = "monitoring"
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})

Manifest = dict[str, Any]

# Every optional feature on, with non-default values everywhere a template branches.
ALL_ON: dict[str, Any] = {
    "namespaces": ["batch", "data", "batch"],
    "jobLabelSelector": "team=data,tier!=test",
    "logLevel": "debug",
    "logFormat": "json",
    "extraArgs": ["--watch.idle-timeout=60", "--resync.period=15"],
    "env": [
        {"name": "JOBWATCH_LIVEZ_MAX_SILENCE", "value": "600"},
        {"name": "TZ", "value": "UTC"},
    ],
    "image": {"tag": "0.1.0-rc1", "digest": "sha256:" + "ab" * 32},
    "imagePullSecrets": [{"name": "ghcr"}],
    "serviceAccount": {"annotations": {"example.com/role": "jobwatch"}},
    "service": {"annotations": {"example.com/scrape": "true"}, "labels": {"tier": "monitoring"}},
    "podAnnotations": {"example.com/owner": "sre"},
    "podLabels": {"team": "sre"},
    "commonLabels": {"cost-center": "platform"},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "monitoring", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        }
    },
    "prometheus": {
        "monitor": {
            "enabled": True,
            "additionalLabels": {"release": "kube-prometheus-stack"},
            "annotations": {"example.com/owner": "sre"},
            "targetLabels": ["tier"],
            "podTargetLabels": ["team"],
            "relabelings": [{"action": "labeldrop", "regex": "endpoint"}],
            "metricRelabelings": [
                {"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}
            ],
        }
    },
    "releaseLabel": True,
    "monitoring": {"clusterLabel": "cluster", "namespaces": {"exclude": "kube-.*"}},
    "prometheusRule": {
        "enabled": True,
        "labels": {"release": "kube-prometheus-stack"},
        "additionalRuleLabels": {"team": "platform"},
        "alerts": {"JobStalled": {"threshold": "30m", "severity": "critical"}},
    },
    "dashboard": {
        "enabled": True,
        "namespace": "grafana",
        "annotations": {"grafana_folder": "K8s"},
        "datasource": "prometheus",
    },
    "networkPolicy": {
        "enabled": True,
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
    },
    "podDisruptionBudget": {"enabled": True},
}


def helm() -> Any:
    """The `helm_python` module; a missing engine fails in CI, like a missing binary."""
    try:
        import helm_python
    except ImportError as error:  # pragma: no cover - depends on the environment
        unavailable(f"helm-python-sdk is not importable ({error}): run `make setup`")
    return helm_python


@cache
def _chart() -> Any:
    return helm().Chart.load(str(CHART_DIR))


def chart() -> Any:
    return _chart()


def render_raw(
    values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE, release: str = RELEASE
) -> dict[str, str]:
    """Template path → rendered text, as `helm template` would print it."""
    rendered: dict[str, str] = chart().render(
        values or {}, name=release, namespace=namespace, is_install=True
    )
    return rendered


def render(
    values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE, release: str = RELEASE
) -> list[Manifest]:
    """Every Kubernetes object the chart renders (NOTES.txt left out)."""
    docs: list[Manifest] = []
    for path, text in sorted(render_raw(values, namespace=namespace, release=release).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(docs: list[Manifest]) -> Manifest:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: Manifest = containers[0]
    return found
