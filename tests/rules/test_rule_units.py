"""promtool unit tests of every alert: silent before `for:`, exact labels and annotations after."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobwatch.render import rules
from jobwatch.render.config import load_config
from jobwatch_testbed import promtool
from tests.rules.support import render_rule_tests, rule_test_templates
from tests.tools import tool

# The same unit tests hold with a cluster label configured: the series carry none, and an empty
# label matches `cluster=""` in the annotations' queries as it does in Prometheus.
CONFIGS = {"defaults": {}, "multi-cluster": {"cluster_label": "cluster"}}


@pytest.mark.tool
@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("template", rule_test_templates())
def test_promtool_unit_tests_pass(template: str, overrides: dict[str, str], tmp_path: Path) -> None:
    tool("promtool")
    (test_file,) = render_rule_tests(load_config(overrides=overrides), tmp_path, [template])
    try:
        promtool.run_rule_tests(test_file)
    except promtool.PromtoolFailed as exc:
        pytest.fail(exc.output, pytrace=False)


def test_every_alert_is_tested_both_ways(tmp_path: Path) -> None:
    """Each alert has an eval where it must not fire and one with its exact labels and annotations."""
    silent: set[str] = set()
    firing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in render_rule_tests(load_config(), tmp_path):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                if case["exp_alerts"]:
                    firing[case["alertname"]].extend(case["exp_alerts"])
                else:
                    silent.add(case["alertname"])
    names = {rule["alert"] for rule in rules.alert_rules(load_config())}
    assert names - silent == set(), "alerts never checked to stay silent"
    assert names - set(firing) == set(), "alerts never checked to fire"
    for name, alerts in firing.items():
        for alert in alerts:
            assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}, name
            assert "severity" in alert["exp_labels"], name


def test_cronjob_failing_is_tested_escalating_and_resolving(tmp_path: Path) -> None:
    (path,) = render_rule_tests(load_config(), tmp_path, ["cronjob.test.yaml.j2"])
    cases = [
        c
        for g in yaml.safe_load(path.read_text())["tests"]
        for c in g.get("alert_rule_test", [])
        if c["alertname"] == "CronJobFailing"
    ]
    severities = [[a["exp_labels"]["severity"] for a in c["exp_alerts"]] for c in cases]
    assert ["warning"] in severities
    assert ["critical"] in severities
    assert severities[-1] == [], "the last check must be the resolution after a success"
