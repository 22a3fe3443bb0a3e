"""The rendered rules pass the real `promtool check rules`, in both output formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jobwatch.render import rules
from jobwatch.render.config import load_config
from jobwatch.render.paths import repo_root
from jobwatch_testbed import promtool
from tests.tools import tool

GENERATED = repo_root() / "rules" / "generated"

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "multi-cluster": {"cluster_label": "cluster"},
    "namespaces": {"namespaces": {"include": "team-.*", "exclude": "team-sandbox"}},
    "tuned": {
        "selector": 'job=~"jobwatch|kube-jobwatch",service="jobwatch"',
        "labels": {"team": "platform"},
        "alerts": {
            "JobStalled": {"threshold": "30m", "for": "0s"},
            "JobFailed": {"enabled": False},
        },
    },
}


@pytest.mark.tool
def test_generated_rule_file_passes_promtool() -> None:
    tool("promtool")
    out = promtool.check_rules(GENERATED / rules.FILENAMES["prometheus"])
    assert "SUCCESS: 16 rules found" in out


@pytest.mark.tool
def test_generated_prometheusrule_spec_passes_promtool(tmp_path: Path) -> None:
    tool("promtool")
    manifest = yaml.safe_load((GENERATED / rules.FILENAMES["prometheusrule"]).read_text())
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(manifest["spec"]))
    assert "SUCCESS: 16 rules found" in promtool.check_rules(spec)


@pytest.mark.tool
@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
def test_rules_for_other_configs_pass_promtool(overrides: dict[str, Any], tmp_path: Path) -> None:
    tool("promtool")
    cfg = load_config(overrides=overrides)
    (path,) = rules.write_rules(tmp_path, cfg, formats=("prometheus",))
    promtool.check_rules(path)


def test_both_formats_hold_the_same_rules() -> None:
    cfg = load_config()
    plain = yaml.safe_load(rules.render_text(cfg, "prometheus"))
    manifest = yaml.safe_load(rules.render_text(cfg, "prometheusrule"))
    assert manifest["spec"] == plain


def test_every_alert_has_severity_runbook_summary_and_description() -> None:
    cfg = load_config()
    for rule in rules.alert_rules(cfg):
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["runbook_url"].endswith(f"rules/runbooks/{rule['alert']}.md")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert (repo_root() / "rules" / "runbooks" / f"{rule['alert']}.md").is_file(), rule["alert"]
