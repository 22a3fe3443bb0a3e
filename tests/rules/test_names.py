"""Every jobwatch_* name a rule, a rule test or a panel uses is declared in metrics.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwatch.render import rules
from jobwatch.render.config import load_config
from jobwatch.render.usage import used_metrics
from tests.rules.names import undeclared
from tests.rules.support import render_rule_tests


def test_checker_catches_unknown_metrics_and_labels() -> None:
    text = 'jobwatch_job_nonexistent{job="x"} + max by (namespace, pod) (jobwatch_job_state{bogus="1"})'
    assert undeclared(text) == [
        "unknown metric jobwatch_job_nonexistent",
        "jobwatch_job_state has no label 'bogus'",
        "grouping label 'pod' is declared by none of ['jobwatch_job_state']",
    ]


def test_checker_accepts_summary_samples_and_scrape_labels() -> None:
    assert undeclared('rate(jobwatch_exporter_render_seconds_sum{job="j",instance="i"}[5m])') == []


@pytest.mark.parametrize("cluster", ["", "cluster"], ids=["single-cluster", "multi-cluster"])
def test_rules_name_only_declared_metrics_and_labels(cluster: str) -> None:
    cfg = load_config(overrides={"cluster_label": cluster})
    for rule in rules.alert_rules(cfg):
        text = rule["expr"] + "\n".join(rule["annotations"].values())
        assert undeclared(text, [cluster] if cluster else []) == [], rule["alert"]


def test_rule_tests_name_only_declared_metrics_and_labels(tmp_path: Path) -> None:
    for path in render_rule_tests(load_config(), tmp_path):
        assert undeclared(path.read_text()) == [], path.name


def test_used_metrics_lists_what_rules_and_panels_need() -> None:
    used = used_metrics(load_config())
    assert "jobwatch_job_state" in used
    assert "jobwatch_exporter_render_seconds_sum" in used
    assert "jobwatch_cronjob_consecutive_failures" in used
