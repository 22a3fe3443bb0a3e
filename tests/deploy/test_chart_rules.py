"""The chart's rule pack and dashboard come from `make generate`: with default values they render
exactly the committed artefacts, and with changed values exactly what `jobwatch render` renders
for the same knobs, so a chart user and a `render --config` user get the same alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobwatch.render.config import load_config
from jobwatch.render.helmchart import CHART_VALUES, chart_values
from tests.deploy.chart import CHART_DIR, NAMESPACE, ROOT, chart, helm, one, render

ON = {"prometheusRule": {"enabled": True}, "dashboard": {"enabled": True}}

# Knob sets for `render --config`; each is also given to the chart through chart_values().
KNOB_SETS: dict[str, dict[str, Any]] = {
    "thresholds-for-severity-labels": {
        "alerts": {
            "JobStalled": {
                "threshold": "1h30m",
                "for": "2m",
                "severity": "critical",
                "labels": {"page": "yes"},
            },
            "JobHighRestarts": {"threshold": 7, "window": "30m"},
            "JobRunningTooLong": {"deadline_fraction": 0.5, "max_duration": "2d"},
            "CronJobFailing": {"critical_after": 5, "critical_severity": "warning"},
            "JobOOMKilled": {"labels": {"team": "memory"}},
            "JobHiddenFailures": {"enabled": False},
        }
    },
    "cluster-namespaces-runbooks-group": {
        "cluster_label": "k8s_cluster",
        "namespaces": {"include": "batch|etl-.*", "exclude": "etl-dev"},
        "runbook_url_pattern": "https://runbooks.example.com/jobwatch/{alert_lower}",
        "group_name": "jobwatch-prod",
        "labels": {"team": "platform", "paging": "yes"},  # severity is per alert, never here
        "dashboard": {"datasource": "thanos"},
    },
    "namespace-exclude-only": {"namespaces": {"exclude": "kube-.*"}},
    "explicit-selector": {"selector": 'job="kubernetes-pods",app="jobwatch"'},
}


def _cli(tmp_path: Path, knobs: dict[str, Any], *args: str) -> str:
    config = tmp_path / "knobs.yaml"
    config.write_text(yaml.safe_dump(knobs), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "jobwatch", "render", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _merge(*values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in values:
        for key, value in v.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = _merge(out[key], value)
            else:
                out[key] = value
    return out


def _spec(values: dict[str, Any]) -> Any:
    return one(render(_merge(ON, values)), "PrometheusRule")["spec"]


def _dashboard(values: dict[str, Any]) -> Any:
    return json.loads(one(render(_merge(ON, values)), "ConfigMap")["data"]["jobwatch.json"])


# --- defaults: exactly the committed artefacts -------------------------------------------------


def test_default_values_render_exactly_the_committed_rule_pack() -> None:
    committed = yaml.safe_load((ROOT / "rules/generated/jobwatch.prometheusrule.yaml").read_text())
    spec = _spec({})
    assert spec == committed["spec"]
    plain = yaml.safe_load((ROOT / "rules/generated/jobwatch.rules.yaml").read_text())
    assert spec == plain


def test_default_values_render_exactly_the_committed_dashboard() -> None:
    committed = json.loads((ROOT / "dashboards/jobwatch.json").read_text(encoding="utf-8"))
    assert _dashboard({}) == committed


def test_every_chart_knob_is_a_value_of_the_chart() -> None:
    values = chart().values
    cfg = load_config()
    for knob, path in CHART_VALUES.items():
        node: Any = values
        for key in path.split("."):
            assert key in node, f"{path} (for {knob}) is not in values.yaml"
            node = node[key]
        expected: Any = cfg
        for key in knob.split("."):
            expected = expected[key]
        if knob != "selector":
            assert node == expected, (
                f"{path} defaults to {node!r}, rules/config.yaml to {expected!r}"
            )


# --- changed values: what `jobwatch render --config` renders for the same knobs ----------------


@pytest.mark.parametrize("knobs", KNOB_SETS.values(), ids=KNOB_SETS.keys())
def test_changed_values_render_what_render_rules_renders(
    tmp_path: Path, knobs: dict[str, Any]
) -> None:
    expected = yaml.safe_load(_cli(tmp_path, knobs, "rules", "--format", "prometheusrule"))
    # `jobwatch render chart-values` tells a --config user which values set the same knobs.
    values = yaml.safe_load(_cli(tmp_path, knobs, "chart-values"))
    assert values == chart_values(knobs)
    assert _spec(values) == expected["spec"]


@pytest.mark.parametrize("knobs", KNOB_SETS.values(), ids=KNOB_SETS.keys())
def test_changed_values_render_the_dashboard_render_dashboard_renders(
    tmp_path: Path, knobs: dict[str, Any]
) -> None:
    expected = json.loads(_cli(tmp_path, knobs, "dashboard"))
    assert _dashboard(chart_values(knobs)) == expected


def test_a_changed_knob_changes_the_rendered_rules() -> None:
    """Control: the comparisons above would notice a knob that does not reach the rules."""
    default = _spec({})
    changed = _spec({"prometheusRule": {"alerts": {"JobStalled": {"threshold": "11m"}}}})
    assert default != changed
    stalled = [r for r in changed["groups"][0]["rules"] if r["alert"] == "JobStalled"]
    assert "> 660\n" in stalled[0]["expr"]


def test_every_alert_disabled_renders_an_empty_group() -> None:
    off = {name: {"enabled": False} for name in load_config()["alerts"]}
    spec = _spec({"prometheusRule": {"alerts": off}})
    assert spec == {"groups": [{"name": "jobwatch", "rules": []}]}


# --- the job selector follows the ServiceMonitor's job label -----------------------------------

JOB_LABEL_CASES: dict[str, tuple[dict[str, Any], str]] = {
    # chart values → the job prometheus-operator gives the series
    "default-name-label": ({}, "jobwatch"),
    "name-override": ({"nameOverride": "batchwatch"}, "batchwatch"),
    "own-service-label": (
        {
            "service": {"labels": {"example.com/scrape-job": "jobs-exporter"}},
            "prometheus": {"monitor": {"jobLabel": "example.com/scrape-job"}},
        },
        "jobs-exporter",
    ),
    # No such label on the Service: the operator falls back to the Service's name.
    "missing-label-is-service-name": (
        {
            "fullnameOverride": "jw-exporter",
            "prometheus": {"monitor": {"jobLabel": "example.com/absent"}},
        },
        "jw-exporter",
    ),
    "no-job-label-is-service-name": (
        {"fullnameOverride": "jw-exporter", "prometheus": {"monitor": {"jobLabel": ""}}},
        "jw-exporter",
    ),
}


@pytest.mark.parametrize(("values", "job"), JOB_LABEL_CASES.values(), ids=JOB_LABEL_CASES.keys())
def test_rules_and_dashboard_select_the_job_the_service_monitor_gives(
    tmp_path: Path, values: dict[str, Any], job: str
) -> None:
    values = _merge(values, {"prometheus": {"monitor": {"enabled": True}}})
    docs = render(_merge(ON, values))
    monitor = one(docs, "ServiceMonitor")["spec"]
    service = one(docs, "Service")
    # prometheus-operator's rule, applied to what the chart renders.
    given = (
        service["metadata"]["labels"].get(monitor.get("jobLabel", ""))
        or service["metadata"]["name"]
    )
    assert given == job
    knobs = {"selector": f'job="{job}"'}
    expected = yaml.safe_load(_cli(tmp_path, knobs, "rules", "--format", "prometheusrule"))
    assert one(docs, "PrometheusRule")["spec"] == expected["spec"]
    dashboard = json.loads(one(docs, "ConfigMap")["data"]["jobwatch.json"])
    assert dashboard == json.loads(_cli(tmp_path, knobs, "dashboard"))


# --- Prometheus's templates survive Helm --------------------------------------------------------


def test_prometheus_templates_survive_helm() -> None:
    rules = {r["alert"]: r for r in _spec({})["groups"][0]["rules"]}
    summary = rules["JobCannotStart"]["annotations"]["summary"]
    assert "{{ $labels.namespace }}/{{ $labels.job_name }}" in summary
    assert "{{ $labels.container }}" in summary
    description = rules["JobBackoffLimitExceeded"]["annotations"]["description"]
    assert '{{ with printf `jobwatch_job_attempts_used{job="jobwatch",' in description
    assert "| query }}" in description


# --- the kube-prometheus-stack values file ------------------------------------------------------

KPS_VALUES = ROOT / "examples" / "kube-prometheus-stack-values.yaml"


def _kps() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(KPS_VALUES.read_text(encoding="utf-8"))
    return loaded


def test_kube_prometheus_stack_values_lint_and_render_what_its_prometheus_selects() -> None:
    report = helm().lint(str(CHART_DIR), _kps(), strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
    docs = render(_kps())
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert one(docs, kind)["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    monitor = one(docs, "ServiceMonitor")["spec"]
    assert monitor["endpoints"][0]["honorLabels"] is True
    dashboard = one(docs, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Kubernetes"}
    variables = json.loads(dashboard["data"]["jobwatch.json"])["templating"]["list"]
    assert variables[0]["current"]["value"] == "prometheus"


def test_kube_prometheus_stack_values_tell_how_to_disable_the_overlapping_alerts() -> None:
    text = KPS_VALUES.read_text(encoding="utf-8")
    for alert in ("KubeJobFailed", "KubeJobNotCompleted"):
        assert f"#       {alert}: true" in text


def test_a_template_branching_on_a_per_install_knob_fails_the_generator() -> None:
    """Helm could not follow such a branch, so `make generate` refuses instead of baking one in."""
    from jobwatch.render.context import environment
    from jobwatch.render.errors import RenderError
    from jobwatch.render.helmchart import symbolic_config
    from jobwatch.render.symbolic import Session

    cfg = symbolic_config(load_config(), Session(), cluster=False)
    template = environment().from_string("<% if alerts.JobStalled.enabled %>on<% endif %>")
    with pytest.raises(RenderError, match="branches on the chart value"):
        template.render(alerts=cfg["alerts"])
