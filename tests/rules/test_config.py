"""The config: defaults, deep-merge, one-line errors, and every knob reaching the rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobwatch.render import rules
from jobwatch.render.config import ConfigError, duration_seconds, load_config
from jobwatch.render.context import context, environment, render
from jobwatch.render.paths import data_root


def _rule(cfg: dict[str, Any], name: str, severity: str | None = None) -> dict[str, Any]:
    return next(
        r
        for r in rules.alert_rules(cfg)
        if r["alert"] == name and severity in (None, r["labels"]["severity"])
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("24h", 86400), ("1h30m", 5400), ("1w", 604800)],
)
def test_duration_seconds(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alerts": {"JobFaild": {}}}, "unknown config key 'alerts.JobFaild'"),
        (
            {"alerts": {"JobStalled": {"treshold": "5m"}}},
            "unknown config key 'alerts.JobStalled.treshold'",
        ),
        (
            {"alerts": {"JobStalled": {"threshold": "5 minutes"}}},
            "alerts.JobStalled.threshold: '5 minutes' is not a Prometheus duration",
        ),
        ({"alerts": {"JobStalled": {"enabled": "yes"}}}, "alerts.JobStalled.enabled must be bool"),
        (
            {"alerts": {"JobStalled": {"severity": "page"}}},
            "alerts.JobStalled.severity must be one of critical, warning, info",
        ),
        ({"namespaces": {"include": "("}}, "namespaces.include is not a valid regex"),
        ({"cluster_label": "my-cluster"}, "cluster_label 'my-cluster' is not a label name"),
        ({"namespaces": "prod"}, "namespaces must be a mapping"),
        ({"runbook_url_pattern": "https://runbooks/"}, "runbook_url_pattern must contain {alert}"),
    ],
    ids=[
        "unknown-alert",
        "unknown-knob",
        "bad-duration",
        "bad-type",
        "bad-severity",
        "bad-regex",
        "bad-label",
        "not-a-mapping",
        "no-placeholder",
    ],
)
def test_bad_config_is_one_clear_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_config_file_is_merged_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("alerts:\n  JobStalled:\n    threshold: 30m\n")
    cfg = load_config(path)
    assert cfg["alerts"]["JobStalled"]["threshold"] == "30m"
    assert cfg["alerts"]["JobStalled"]["for"] == "1m"
    assert "> 1800" in _rule(cfg, "JobStalled")["expr"]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("alerts:\n  JobStalled: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+ is not valid YAML"):
        load_config(path)


def test_missing_knob_fails_the_render() -> None:
    cfg = load_config()
    del cfg["alerts"]["JobStalled"]["threshold"]
    env = environment(data_root() / "rules" / "templates")
    with pytest.raises(ConfigError, match="threshold"):
        render(env, rules.TEMPLATE, context(cfg))


def test_knobs_reach_the_rules() -> None:
    cfg = load_config(
        overrides={
            "labels": {"team": "platform"},
            "runbook_url_pattern": "https://runbooks.example/{alert_lower}",
            "alerts": {
                "JobOOMKilled": {
                    "for": "0s",
                    "severity": "critical",
                    "window": "2h",
                    "labels": {"page": "yes"},
                },
                "JobFailed": {"enabled": False},
                "CronJobFailing": {"critical_after": 5},
            },
        }
    )
    oom = _rule(cfg, "JobOOMKilled")
    assert oom["for"] == "0s"
    assert oom["labels"] == {"severity": "critical", "team": "platform", "page": "yes"}
    assert "< 7200" in oom["expr"]
    assert oom["annotations"]["runbook_url"] == "https://runbooks.example/joboomkilled"
    assert "JobFailed" not in {r["alert"] for r in rules.alert_rules(cfg)}
    assert ">= 5" in _rule(cfg, "CronJobFailing", "critical")["expr"]
    assert "> 0 < 5" in _rule(cfg, "CronJobFailing", "warning")["expr"]


def test_cluster_label_joins_every_grouping() -> None:
    cfg = load_config(overrides={"cluster_label": "cluster"})
    for rule in rules.alert_rules(cfg):
        for clause in ("by (", "on ("):
            for part in rule["expr"].split(clause)[1:]:
                assert part.startswith(("cluster, ", "job_name)", "cluster)", ")")), (
                    rule["alert"],
                    part[:40],
                )
        # Every summary names the cluster.
        assert "$labels.cluster" in rule["annotations"]["summary"], rule["alert"]
        assert (
            "$labels.cluster" in rule["annotations"]["description"]
            or rule["alert"] == "JobwatchDown"
            or "query" not in rule["annotations"]["description"]
        )


def test_namespace_selector_reaches_job_series_but_not_exporter_series() -> None:
    cfg = load_config(overrides={"namespaces": {"include": "team-.*", "exclude": "team-sandbox"}})
    ns = 'namespace=~"team-.*",namespace!~"team-sandbox"'
    assert ns in _rule(cfg, "JobFailed")["expr"]
    assert ns in _rule(cfg, "CronJobFailing", "warning")["expr"]
    assert "namespace" not in _rule(cfg, "JobwatchWatchStale")["expr"]
