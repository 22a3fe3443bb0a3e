"""`jobwatch render ...` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobwatch.cli import main
from jobwatch.render import rules


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
    ],
    ids=["unknown-key", "bad-yaml", "missing-file"],
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


@pytest.mark.parametrize("what", ["rules", "dashboard", "alertmanager"])
def test_help_describes_each_command(what: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", what, "--help"])
    assert exit_info.value.code == 0
    assert "--config" in capsys.readouterr().out
