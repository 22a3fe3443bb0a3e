"""Every alert has a runbook in the prometheus-operator/runbooks shape."""

from __future__ import annotations

import re

import pytest

from jobwatch.render import rules
from jobwatch.render.config import load_config
from jobwatch.render.runbooks import runbooks
from jobwatch.vocabulary import Cause
from tests.rules.names import undeclared

BOOKS = runbooks(load_config())
ALERTS = sorted({r["alert"] for r in rules.alert_rules(load_config())})
# Alerts about a Job's containers: their runbooks need the exit-code table and the logs.
JOB_FAILURE_ALERTS = {
    "JobBackoffLimitExceeded",
    "JobFailed",
    "JobLastAttempt",
    "JobHiddenFailures",
    "JobHighRestarts",
    "CronJobFailing",
}


def test_one_runbook_per_alert() -> None:
    assert sorted(BOOKS) == ALERTS


@pytest.mark.parametrize("alert", ALERTS)
def test_runbook_shape(alert: str) -> None:
    text = BOOKS[alert]
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == ["Meaning", "Impact", "Diagnosis", "Mitigation"]
    assert f"# {alert}\n" in text
    assert "kubectl" in text
    assert undeclared(text) == []


@pytest.mark.parametrize("alert", sorted(JOB_FAILURE_ALERTS))
def test_failure_runbooks_have_the_exit_code_table_and_commands(alert: str) -> None:
    text = BOOKS[alert]
    assert "kubectl -n $NAMESPACE describe job" in text
    assert "kubectl -n $NAMESPACE describe pod" in text
    assert "--previous" in text
    for cause in Cause:
        assert f"| `{cause}` |" in text
