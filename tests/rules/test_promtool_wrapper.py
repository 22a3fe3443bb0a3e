"""jobwatch_testbed.promtool's error paths, with a faked promtool (pytest-subprocess).

The real promtool runs are in test_rule_units.py and test_rules_check.py.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from jobwatch_testbed import promtool

PROMTOOL = "/usr/local/bin/promtool"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: PROMTOOL)


def test_missing_promtool_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(promtool.PromtoolMissing, match="promtool not found on PATH"):
        promtool.check_rules("x.yaml")


@pytest.mark.usefixtures("on_path")
def test_check_rules_success_returns_output(fp: Any) -> None:
    fp.register(
        [PROMTOOL, "check", "rules", "r.yaml"], stdout="Checking r.yaml\n  SUCCESS: 3 rules found\n"
    )
    assert "SUCCESS: 3 rules found" in promtool.check_rules("r.yaml")


@pytest.mark.usefixtures("on_path")
def test_check_rules_failure_lists_problems(fp: Any) -> None:
    fp.register(
        [PROMTOOL, "check", "rules", "r.yaml"],
        stdout="Checking r.yaml\n\n",
        stderr='  FAILED:\nr.yaml: 5:11: group "x", rule 1, "A": could not parse expression: 1:5: parse error\n',
        returncode=1,
    )
    with pytest.raises(promtool.PromtoolFailed) as info:
        promtool.check_rules("r.yaml")
    assert info.value.returncode == 1
    assert info.value.problems == [
        'r.yaml: 5:11: group "x", rule 1, "A": could not parse expression: 1:5: parse error'
    ]
    assert str(info.value) == (
        'promtool check rules failed: r.yaml: 5:11: group "x", rule 1, "A": '
        "could not parse expression: 1:5: parse error"
    )


@pytest.mark.usefixtures("on_path")
def test_test_rules_failure_keeps_the_expected_and_got(fp: Any) -> None:
    stderr = (
        "  FAILED:\n    alertname: A, time: 1m, \n        exp:[], \n        got:[\n"
        '            0:\n              Labels:{alertname="A"}\n            ]\n'
    )
    fp.register(
        [PROMTOOL, "test", "rules", "t.yaml"],
        stdout="Unit Testing:  t.yaml\n",
        stderr=stderr,
        returncode=1,
    )
    with pytest.raises(promtool.PromtoolFailed) as info:
        promtool.run_rule_tests("t.yaml")
    assert info.value.problems[0] == "alertname: A, time: 1m,"
    assert 'Labels:{alertname="A"}' in info.value.output
    assert "(+5 more)" in str(info.value)


@pytest.mark.usefixtures("on_path")
def test_check_metrics_passes_the_exposition_on_stdin(fp: Any) -> None:
    fp.register([PROMTOOL, "check", "metrics"], stderr="foo no help text\n", returncode=1)
    with pytest.raises(promtool.PromtoolFailed) as info:
        promtool.check_metrics("foo 1\n")
    assert info.value.problems == ["foo no help text"]
    assert fp.calls[0] == [PROMTOOL, "check", "metrics"]


@pytest.mark.usefixtures("on_path")
def test_timeout_is_reported(fp: Any) -> None:
    def hang(process: Any) -> None:
        raise subprocess.TimeoutExpired(process.args, 0.1)

    fp.register([PROMTOOL, "test", "rules", "t.yaml"], callback=hang)
    with pytest.raises(promtool.PromtoolError, match=r"timed out after 0\.1s"):
        promtool.run_rule_tests("t.yaml", timeout=0.1)


@pytest.mark.usefixtures("on_path")
def test_unrunnable_binary_is_reported(fp: Any) -> None:
    fp.register(
        [PROMTOOL, "check", "rules", "r.yaml"],
        callback=lambda p: (_ for _ in ()).throw(PermissionError(13, "Permission denied")),
    )
    with pytest.raises(promtool.PromtoolMissing, match=r"cannot run .*Permission denied"):
        promtool.check_rules("r.yaml")
