"""`jobwatch render ...` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobwatch.cli import main
from jobwatch.render import rules
from jobwatch.render.config import load_config
from tests.tools import tool


def test_render_rules_prints_a_rule_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "rules"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["groups"][0]["name"] == "jobwatch"


def test_render_rules_prometheusrule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "rules", "--format", "prometheusrule"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "PrometheusRule"


def test_render_rules_output_dir_writes_both(tmp_path: Path) -> None:
    assert main(["render", "rules", "--output", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(rules.FILENAMES.values())


def test_render_rules_with_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alerts:\n  JobFailed:\n    enabled: false\n")
    assert main(["render", "rules", "--config", str(cfg)]) == 0
    names = {r["alert"] for r in yaml.safe_load(capsys.readouterr().out)["groups"][0]["rules"]}
    assert "JobFailed" not in names
    assert "JobBackoffLimitExceeded" in names


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alerts:\n  JobFaild: {}\n", "unknown config key 'alerts.JobFaild'"),
        ("alerts: [\n", "is not valid YAML"),
        (None, "cannot read config"),
        (
            "runbook_url_pattern: https://x/{alertname}\n",
            "runbook_url_pattern 'https://x/{alertname}' uses {alertname}; the fields are "
            "{alert}, {alert_lower}",
        ),
        ("runbook_url_pattern: https://x/{alert\n", "expected '}' before end of string"),
        (
            "selector: job=jobwatch\n",
            "selector 'job=jobwatch' is not PromQL label matchers such as 'job=\"jobwatch\"'",
        ),
        ("labels: {severity: page}\n", "labels.severity would override a label the rules compute"),
        (
            "alerts:\n  JobFailed:\n    labels: {job_name: x}\n",
            "alerts.JobFailed.labels.job_name would override a label the rules compute",
        ),
    ],
    ids=[
        "unknown-key",
        "bad-yaml",
        "missing-file",
        "runbook-field",
        "runbook-brace",
        "unquoted-selector",
        "severity-label",
        "computed-label",
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    cfg = tmp_path / "c.yaml"
    if content is not None:
        cfg.write_text(content)
    assert main(["render", "rules", "--config", str(cfg)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("jobwatch render: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


@pytest.mark.tool
def test_promtool_rejection_of_the_render_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tool("promtool")
    cfg = tmp_path / "c.yaml"
    cfg.write_text('namespaces:\n  include: "(?=prod)x"\n')  # Python's re takes it; RE2 does not
    assert main(["render", "rules", "--config", str(cfg)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("jobwatch render: promtool rejects the rendered rules: ")
    assert "invalid or unsupported Perl syntax" in captured.err
    assert captured.err.count("\n") == 1
    assert main(["render", "rules", "--config", str(cfg), "--no-check"]) == 0


def test_render_config_prints_the_commented_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["render", "config"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# jobwatch rule pack")
    assert "# Where each alert's runbook lives" in text
    mine = tmp_path / "mine.yaml"
    mine.write_text(text)  # the printed defaults are a valid --config as they stand
    assert main(["render", "rules", "--config", str(mine), "--no-check"]) == 0


def test_render_runbooks_writes_one_file_per_alert_with_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("selector: 'job=\"kube-jobwatch\"'\n")
    out = tmp_path / "books"
    assert main(["render", "runbooks", "--config", str(cfg), "--output", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted({f"{r['alert']}.md" for r in rules.alert_rules(load_config())})
    assert 'job="kube-jobwatch"' in (out / "JobwatchDown.md").read_text()
    assert f"wrote {len(names)} runbooks" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["rules", "dashboard", "alertmanager", "runbooks"])
def test_help_describes_each_command(what: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", what, "--help"])
    assert exit_info.value.code == 0
    assert "--config" in capsys.readouterr().out
