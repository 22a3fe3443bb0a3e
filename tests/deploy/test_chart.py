"""helm/jobwatch: lint, render, secure defaults, RBAC, schema, and the flags it passes."""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any

import pytest

from jobwatch import settings
from jobwatch.cli import build_parser
from jobwatch.render.config import load_config
from jobwatch.render.generate import artefacts
from tests.deploy.chart import (
    ALL_ON,
    CHART_DIR,
    NAMESPACE,
    Manifest,
    chart,
    container,
    helm,
    of_kind,
    one,
    render,
    render_raw,
)

VALUE_SETS = {"defaults": {}, "all-on": ALL_ON}


# --- lint and render -----------------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_strict_passes(values: dict[str, Any]) -> None:
    report = helm().lint(str(CHART_DIR), values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == []
    assert problems == []


def test_defaults_render_only_the_core_objects() -> None:
    kinds = sorted(d["kind"] for d in render())
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]


def test_every_option_on_renders_every_kind() -> None:
    kinds = {d["kind"] for d in render(ALL_ON)}
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    }


def test_notes_render_for_both_modes() -> None:
    default_notes = render_raw()["jobwatch/templates/NOTES.txt"]
    assert "all namespaces (ClusterRole)" in default_notes
    notes = render_raw(ALL_ON)["jobwatch/templates/NOTES.txt"]
    assert "namespaces batch, data (Role and RoleBinding in each)" in notes
    assert 'job="jobwatch"' in notes


# --- Deployment shape and secure defaults ----------------------------------------------------------


def test_one_exporter_recreated_never_rolled() -> None:
    spec = one(render(), "Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_pod_runs_non_root_read_only_without_privileges() -> None:
    docs = render()
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(docs)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)


def test_token_is_mounted_only_into_the_exporter_pod() -> None:
    docs = render()
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]


def test_resources_probes_and_port() -> None:
    docs = render()
    c = container(docs)
    assert set(c["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http-metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert c["ports"] == [{"name": "http-metrics", "containerPort": 9816, "protocol": "TCP"}]
    assert c["image"] == "ghcr.io/jobwatch/jobwatch:0.1.0"
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http-metrics", "port": 9816, "targetPort": "http-metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]


def test_image_tag_defaults_to_app_version_and_digest_pins() -> None:
    assert chart().metadata["appVersion"] == "0.1.0"
    assert container(render(ALL_ON))["image"] == (
        "ghcr.io/jobwatch/jobwatch:0.1.0-rc1@sha256:" + "ab" * 32
    )


# --- RBAC ----------------------------------------------------------------------------------------

EXPECTED_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
]


def _binding_targets_service_account(binding: Manifest, docs: list[Manifest]) -> None:
    sa = one(docs, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["name"], "namespace": NAMESPACE}
    ]


def test_cluster_rbac_is_exactly_list_and_watch_on_jobs_cronjobs_and_pods() -> None:
    docs = render()
    role = one(docs, "ClusterRole")
    assert role["rules"] == EXPECTED_RULES
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    _binding_targets_service_account(binding, docs)
    assert not of_kind(docs, "Role")
    assert not of_kind(docs, "RoleBinding")


def test_without_the_cronjob_watch_rbac_is_jobs_and_pods_only() -> None:
    docs = render({"watchCronJobs": False})
    assert one(docs, "ClusterRole")["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
    ]
    args = container(docs)["args"]
    assert "--watch.cronjobs=false" in args
    assert settings.from_args(_parse_serve_args(args), environ={}).watch_cronjobs is False


def test_namespaced_mode_has_a_role_per_namespace_and_no_cluster_role() -> None:
    docs = render({"namespaces": ["team-b", "team-a", "team-b"]})
    assert not of_kind(docs, "ClusterRole")
    assert not of_kind(docs, "ClusterRoleBinding")
    roles = {r["metadata"]["namespace"]: r for r in of_kind(docs, "Role")}
    bindings = {b["metadata"]["namespace"]: b for b in of_kind(docs, "RoleBinding")}
    assert sorted(roles) == sorted(bindings) == ["team-a", "team-b"]
    for ns, role in roles.items():
        assert role["rules"] == EXPECTED_RULES
        assert bindings[ns]["roleRef"]["kind"] == "Role"
        assert bindings[ns]["roleRef"]["name"] == role["metadata"]["name"]
        _binding_targets_service_account(bindings[ns], docs)
    args = container(docs)["args"]
    assert "--namespaces=team-b,team-a" in args
    parsed = _parse_serve_args(args)
    assert settings.from_args(parsed, environ={}).namespaces == ("team-a", "team-b")


def test_no_rbac_when_disabled() -> None:
    docs = render({"rbac": {"create": False}, "serviceAccount": {"create": False}})
    assert {d["kind"] for d in docs} == {"Deployment", "Service"}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "default"


# --- the flags agree with `jobwatch serve` ---------------------------------------------------------


def _parse_serve_args(args: list[str]) -> argparse.Namespace:
    """Parse with the real `jobwatch` command line, as the image's ENTRYPOINT will."""
    assert args[0] == "serve", "args replace the image CMD, so they must start with the sub-command"
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as error:
        pytest.fail(f"jobwatch rejects the chart's args {args}: exit {error.code}")
    assert parsed.command == "serve"
    return parsed


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_deployment_args_are_flags_jobwatch_serve_accepts(values: dict[str, Any]) -> None:
    c = container(render(values))
    parsed = _parse_serve_args(c["args"])
    env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
    resolved = settings.from_args(parsed, environ=env)
    _host, port = settings.split_listen_address(resolved.listen_address)
    assert port == c["ports"][0]["containerPort"]


def test_all_on_values_reach_the_settings() -> None:
    c = container(render(ALL_ON))
    env = {e["name"]: e["value"] for e in c["env"]}
    resolved = settings.from_args(_parse_serve_args(c["args"]), environ=env)
    assert resolved.namespaces == ("batch", "data")
    assert resolved.job_selector == "team=data,tier!=test"
    assert resolved.log_level == "debug"
    assert resolved.log_format == "json"
    assert resolved.watch_idle_timeout == 60.0
    assert resolved.resync_period == 15.0
    assert resolved.livez_max_silence == 600.0


def test_jobwatch_env_vars_in_values_are_settings() -> None:
    known = {settings.env_name(f.metadata["flag"]) for f in dataclasses.fields(settings.Settings)}
    named = {e["name"] for e in container(render(ALL_ON))["env"]}
    assert {n for n in named if n.startswith(settings.ENV_PREFIX)} <= known


def test_selector_with_yaml_special_characters_survives() -> None:
    selector = "tier notin (test, dev),!legacy,team=data #1"
    args = container(render({"jobLabelSelector": selector}))["args"]
    resolved = settings.from_args(_parse_serve_args(args), environ={})
    assert resolved.job_selector == selector


def test_a_flag_serve_does_not_know_is_caught() -> None:
    args = container(render({"extraArgs": ["--no-such.flag=1"]}))["args"]
    with pytest.raises(pytest.fail.Exception, match="rejects"):
        _parse_serve_args(args)


def test_default_port_matches_settings() -> None:
    values = chart().values
    assert values["containerPort"] == values["service"]["port"] == settings.DEFAULT_PORT


# --- values.schema.json ------------------------------------------------------------------------


BAD_VALUES = {
    "replicas-as-string": {"replicas": "1"},
    "two-replicas": {"replicas": 2},
    "unknown-log-format": {"logFormat": "text"},
    "unknown-log-level": {"logLevel": "trace"},
    "namespaces-as-string": {"namespaces": "batch"},
    "namespace-not-dns": {"namespaces": ["Batch_Jobs"]},
    "typo-top-level-key": {"serviceMontor": {"enabled": True}},
    "typo-nested-key": {"prometheus": {"monitor": {"enable": True}}},
    "pre-0.2-service-monitor-key": {"serviceMonitor": {"enabled": True}},
    "extra-arg-not-a-flag": {"extraArgs": ["serve"]},
    "env-without-name": {"env": [{"value": "x"}]},
    "port-out-of-range": {"containerPort": 70000},
    "bad-pull-policy": {"image": {"pullPolicy": "Sometimes"}},
    "bad-digest": {"image": {"digest": "latest"}},
    "bad-interval": {"prometheus": {"monitor": {"interval": "30"}}},
    "cluster-label-not-a-label": {"monitoring": {"clusterLabel": "k8s-cluster"}},
    "unknown-alert": {"prometheusRule": {"alerts": {"JobExploded": {"enabled": False}}}},
    "unknown-alert-knob": {"prometheusRule": {"alerts": {"JobStalled": {"treshold": "5m"}}}},
    "alert-for-not-a-duration": {"prometheusRule": {"alerts": {"JobFailed": {"for": "1 min"}}}},
    "alert-threshold-not-a-number": {
        "prometheusRule": {"alerts": {"JobHighRestarts": {"threshold": "3"}}}
    },
    "alert-severity-unknown": {"prometheusRule": {"alerts": {"JobFailed": {"severity": "page"}}}},
    "runbook-pattern-without-alert": {
        "prometheusRule": {"runbookUrlPattern": "https://runbooks.example.com/"}
    },
}


@pytest.mark.parametrize("values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    h = helm()
    with pytest.raises(h.HelmValuesError):
        chart().validate_schema(chart().merge_values(values))
    with pytest.raises(h.HelmError):
        render(values)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_schema_accepts_good_values(values: dict[str, Any]) -> None:
    chart().validate_schema(chart().merge_values(values))


# --- optional monitoring objects -----------------------------------------------------------------


def test_service_monitor_keeps_the_jobs_labels_and_names_the_job_by_a_service_label() -> None:
    docs = render(ALL_ON)
    monitor = one(docs, "ServiceMonitor")
    monitor_values = ALL_ON["prometheus"]["monitor"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["metadata"]["annotations"] == monitor_values["annotations"]
    spec = monitor["spec"]
    # prometheus-operator's meaning: the Service label whose value becomes `job`.
    assert spec["jobLabel"] == "app.kubernetes.io/name"
    assert one(docs, "Service")["metadata"]["labels"]["app.kubernetes.io/name"] == "jobwatch"
    assert spec["targetLabels"] == ["tier"]
    assert spec["podTargetLabels"] == ["team"]
    endpoint = spec["endpoints"][0]
    assert endpoint["port"] == "http-metrics"
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True
    assert endpoint["relabelings"] == monitor_values["relabelings"]
    assert endpoint["metricRelabelings"] == monitor_values["metricRelabelings"]
    assert spec["selector"]["matchLabels"] == one(docs, "Service")["spec"]["selector"]


def test_service_monitor_defaults_honor_labels_and_add_no_relabelings() -> None:
    monitor = one(render({"prometheus": {"monitor": {"enabled": True}}}), "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True
    assert "relabelings" not in endpoint
    assert "release" not in monitor["metadata"]["labels"]
    off = render({"prometheus": {"monitor": {"enabled": True, "honorLabels": False}}})
    assert one(off, "ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] is False


def test_release_label_switch_labels_every_object_with_the_release() -> None:
    docs = render(ALL_ON)
    assert all(
        d["metadata"]["labels"]["release"] == "jobwatch"
        for d in docs
        if d["kind"] in ("Deployment", "Service", "ClusterRole", "Role", "ConfigMap")
    )
    assert all("release" not in d["metadata"]["labels"] for d in render())


def test_network_policy_allows_only_scrapes_in_and_dns_and_api_out() -> None:
    policy = one(render(ALL_ON), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {
            "ports": [{"port": "http-metrics", "protocol": "TCP"}],
            "from": ALL_ON["networkPolicy"]["ingressFrom"],
        }
    ]
    out_ports = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
    assert out_ports == [53, 53, 443, 6443]


def test_pod_disruption_budget_never_blocks_a_drain() -> None:
    pdb = one(render(ALL_ON), "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1


# --- generated chart files and docs --------------------------------------------------------------


def test_chart_templates_values_and_schema_are_generated() -> None:
    generated = {k for k in artefacts(load_config()) if k.startswith("helm/")}
    assert generated == {
        "helm/jobwatch/templates/_rules.tpl",
        "helm/jobwatch/templates/_dashboard.tpl",
        "helm/jobwatch/values.yaml",
        "helm/jobwatch/values.schema.json",
    }
    assert not (CHART_DIR / "files").exists(), "helm/jobwatch/files is no longer generated"


# values.yaml sections that README documents key by key; everything else is one row.
SECTIONS = frozenset(
    {
        "image",
        "serviceAccount",
        "rbac",
        "service",
        "prometheus",
        "prometheus.monitor",
        "monitoring",
        "monitoring.namespaces",
        "prometheusRule",
        "dashboard",
        "networkPolicy",
        "podDisruptionBudget",
        "sharding",
        "webConfig",
    }
)


def _value_paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in values.items():
        path = prefix + key
        if path in SECTIONS:
            paths.update(_value_paths(value, path + "."))
        else:
            paths.add(path)
    return paths


def test_readme_documents_every_value() -> None:
    readme = (CHART_DIR / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Za-z.]+)` \|", readme, flags=re.MULTILINE))
    assert documented == _value_paths(chart().values)
