"""Every rendered manifest is valid Kubernetes (strict schemas, several versions); the CRD objects
the schemas do not know are checked by what consumes them: promtool for the PrometheusRule."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ALL_ON, CRD_KINDS, chart, of_kind, one, render
from tests.tools import tool

# The chart's kubeVersion floor, then a spread up to the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.25", "1.27", "1.30", "1.33", "1.37")
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all-on": ALL_ON,
    "namespaced": {"namespaces": ["team-a", "team-b"]},
    "no-rbac": {"rbac": {"create": False}, "serviceAccount": {"create": False}},
}


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError as error:  # pragma: no cover - depends on the environment
        tool("kubernetes-validate")  # fails in CI, skips locally
        raise AssertionError("unreachable") from error
    return kubernetes_validate


def test_chart_floor_is_the_oldest_version_checked() -> None:
    assert chart().metadata["kubeVersion"] == f">={KUBE_VERSIONS[0]}.0-0"


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_manifests_validate_strictly(values: dict[str, Any], version: str) -> None:
    kv = _kubernetes_validate()
    docs = [d for d in render(values) if d["kind"] not in CRD_KINDS]
    assert docs
    errors = []
    for doc in docs:
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as error:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {error.message}")
    assert errors == []


def test_strict_validation_catches_a_misspelt_field() -> None:
    """Control: the validator really is strict, so the pass above means something."""
    kv = _kubernetes_validate()
    deployment = one(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, "1.33", strict=True)


def test_prometheus_rule_groups_pass_promtool(tmp_path: Path) -> None:
    promtool = tool("promtool")
    rule = one(render(ALL_ON), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = tmp_path / "groups.yaml"
    groups.write_text(yaml.safe_dump(rule["spec"], sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "rules", str(groups)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts, "the PrometheusRule holds no alerts"


def test_service_monitor_is_well_formed() -> None:
    monitor = one(render(ALL_ON), "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert set(spec) == {
        "jobLabel",
        "targetLabels",
        "podTargetLabels",
        "selector",
        "namespaceSelector",
        "endpoints",
    }
    assert spec["namespaceSelector"] == {"matchNames": [monitor["metadata"]["namespace"]]}
    endpoint = spec["endpoints"][0]
    assert set(endpoint) == {
        "port",
        "path",
        "honorLabels",
        "interval",
        "scrapeTimeout",
        "relabelings",
        "metricRelabelings",
    }
    assert endpoint["interval"] == "30s"
    assert endpoint["scrapeTimeout"] == "10s"


def test_crd_kinds_are_off_by_default() -> None:
    docs = render()
    for kind in CRD_KINDS:
        assert not of_kind(docs, kind)
