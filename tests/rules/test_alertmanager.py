"""The example Alertmanager config passes amtool, routes and inhibits as documented, and its
notification templates render the facts an on-call engineer needs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobwatch.cli import main
from jobwatch.render.alertmanager import (
    CONFIG_FILE,
    TEMPLATE_FILE,
    render_files,
    write_alertmanager,
)
from jobwatch.render.config import load_config
from jobwatch.render.paths import repo_root
from jobwatch.vocabulary import CAUSE_MEANING, Cause
from tests.tools import tool

GENERATED = repo_root() / "alertmanager" / "generated"

FAILED = {
    "status": "firing",
    "labels": {
        "alertname": "JobBackoffLimitExceeded",
        "severity": "critical",
        "namespace": "batch",
        "job_name": "import-1",
        "reason": "BackoffLimitExceeded",
    },
    "annotations": {
        "summary": "Job batch/import-1 failed with BackoffLimitExceeded.",
        "description": "Job batch/import-1 used up its retries and failed (BackoffLimitExceeded, "
        "attempts used 2 of limit 1). Last failure: exit code 137 (OOMKilled) in container main, "
        f"{CAUSE_MEANING[Cause.OOM_KILLED]}.",
        "runbook_url": "https://example.com/rules/runbooks/JobBackoffLimitExceeded.md",
    },
}
CANNOT_START = {
    "status": "resolved",
    "labels": {
        "alertname": "JobCannotStart",
        "severity": "critical",
        "namespace": "batch",
        "job_name": "migrate",
        "cronjob": "nightly-migrate",
        "container": "migrate",
        "cause": "command_not_found",
    },
    "annotations": {
        "summary": "Job batch/migrate cannot start container migrate (command_not_found).",
        "description": "Container migrate exited with code 127 (attempts used 1 of limit 6).",
        "runbook_url": "https://example.com/rules/runbooks/JobCannotStart.md",
    },
}


def _data(*alerts: dict[str, Any]) -> dict[str, Any]:
    common = {
        k: v for k, v in alerts[0]["labels"].items() if k in ("alertname", "severity", "namespace")
    }
    return {
        "receiver": "jobwatch-critical",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": [
            {
                **a,
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus/graph",
                "fingerprint": str(i),
            }
            for i, a in enumerate(alerts)
        ],
        "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
    }


def _render(template: str, data: dict[str, Any], tmp_path: Path) -> str:
    amtool = tool("amtool")
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    result = subprocess.run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={GENERATED / TEMPLATE_FILE}",
            f'--template.text={{{{ template "{template}" . }}}}',
            f"--template.data={path}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.tool
def test_generated_config_passes_amtool() -> None:
    amtool = tool("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(GENERATED / CONFIG_FILE)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@pytest.mark.tool
@pytest.mark.parametrize(
    "overrides", [{"cluster_label": "cluster"}, {"alertmanager": {"repeat_interval": "1h"}}]
)
def test_other_configs_pass_amtool(overrides: dict[str, Any], tmp_path: Path) -> None:
    amtool = tool("amtool")
    path = write_alertmanager(tmp_path, overrides=overrides)
    subprocess.run([amtool, "check-config", str(path)], check=True, capture_output=True, timeout=30)


def test_webhook_url_can_be_replaced(tmp_path: Path) -> None:
    path = write_alertmanager(tmp_path, webhook_url="http://127.0.0.1:45678/hook")
    config = yaml.safe_load(path.read_text())
    urls = {c["url"] for r in config["receivers"] for c in r.get("webhook_configs", [])}
    assert urls == {"http://127.0.0.1:45678/hook"}
    assert (tmp_path / TEMPLATE_FILE).is_file()


def test_cli_writes_both_files(tmp_path: Path) -> None:
    assert (
        main(["render", "alertmanager", "--output", str(tmp_path), "--webhook-url", "http://h/x"])
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [CONFIG_FILE, TEMPLATE_FILE]


@pytest.mark.tool
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=JobBackoffLimitExceeded"], "jobwatch-critical"),
        (["severity=warning", "alertname=JobLastAttempt"], "jobwatch-warning"),
        (["severity=info", "alertname=JobHiddenFailures"], "jobwatch-info"),
        (["alertname=Other"], "jobwatch-webhook"),
    ],
)
def test_routes_by_severity(labels: list[str], receiver: str) -> None:
    amtool = tool("amtool")
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={GENERATED / CONFIG_FILE}", *labels],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == receiver


def test_grouping_and_inhibition() -> None:
    config = yaml.safe_load((GENERATED / CONFIG_FILE).read_text())
    assert config["route"]["group_by"] == ["namespace", "cronjob", "alertname"]
    job_rule = config["inhibit_rules"][0]
    assert job_rule["source_matchers"] == ['severity="critical"', 'job_name=~".+"']
    assert job_rule["target_matchers"] == ['severity=~"warning|info"']
    assert job_rule["equal"] == ["namespace", "job_name"]
    clustered = yaml.safe_load(
        render_files(load_config(overrides={"cluster_label": "cluster"}))[CONFIG_FILE]
    )
    assert clustered["route"]["group_by"][0] == "cluster"
    assert clustered["inhibit_rules"][0]["equal"] == ["cluster", "namespace", "job_name"]


@pytest.mark.tool
def test_slack_message_has_job_reason_exit_meaning_attempts_and_runbook(tmp_path: Path) -> None:
    text = _render("jobwatch.slack.text", _data(FAILED, CANNOT_START), tmp_path)
    assert "*Job batch/import-1* (critical)" in text
    assert "• Reason: `BackoffLimitExceeded`" in text
    assert CAUSE_MEANING[Cause.OOM_KILLED] in text
    assert "attempts used 2 of limit 1" in text
    assert "<https://example.com/rules/runbooks/JobBackoffLimitExceeded.md|Runbook>" in text
    # The resolved alert, with its cause label turned into its meaning.
    assert "*Resolved: Job batch/migrate (CronJob nightly-migrate)*" in text
    assert f"• Exit cause: `command_not_found`, {CAUSE_MEANING[Cause.COMMAND_NOT_FOUND]}" in text
    title = _render("jobwatch.slack.title", _data(FAILED), tmp_path)
    assert title == "[FIRING:1] JobBackoffLimitExceeded in batch"
    assert _render("jobwatch.slack.color", _data(FAILED), tmp_path) == "danger"


@pytest.mark.tool
def test_email_has_the_same_facts(tmp_path: Path) -> None:
    text = _render("jobwatch.email.text", _data(FAILED), tmp_path)
    assert text.splitlines()[:3] == [
        "[critical] JobBackoffLimitExceeded: Job batch/import-1",
        "Job batch/import-1 failed with BackoffLimitExceeded.",
        "Reason: BackoffLimitExceeded",
    ]
    assert "Runbook: https://example.com/rules/runbooks/JobBackoffLimitExceeded.md" in text
    html = _render("jobwatch.email.html", _data(FAILED), tmp_path)
    assert (
        '<a href="https://example.com/rules/runbooks/JobBackoffLimitExceeded.md">Runbook</a>'
        in html
    )
    subject = _render("jobwatch.email.subject", _data(FAILED), tmp_path)
    assert subject == "[FIRING] JobBackoffLimitExceeded in batch: 1 alert(s)"


def _labels(alert: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = alert["labels"]
    return labels


def _posted(alert: dict[str, Any]) -> dict[str, Any]:
    return {"labels": alert["labels"], "annotations": alert["annotations"]}


@pytest.mark.tool
def test_a_job_that_cannot_start_pages_once_in_a_real_alertmanager(tmp_path: Path) -> None:
    """The generated inhibition, in Alertmanager itself: JobCannotStart mutes the same Job's
    JobBackoffLimitExceeded, and leaves another Job's alone."""
    tool("prometheus-alertmanager")
    import asyncio

    import aiohttp

    from jobwatch_testbed.monitoring import run_alertmanager

    cfg = load_config(overrides={"alertmanager": {"email_smarthost": "127.0.0.1:1"}})
    am_file = write_alertmanager(tmp_path / "am", cfg)
    same_job = {"namespace": "batch", "job_name": "migrate"}
    cannot_start = {**CANNOT_START, "labels": {**_labels(CANNOT_START), **same_job}}
    failed_same = {
        **FAILED,
        "labels": {**_labels(FAILED), **same_job, "cronjob": "nightly-migrate"},
    }
    failed_other = FAILED

    async def states() -> dict[str, list[str]]:
        async with run_alertmanager(am_file) as am, aiohttp.ClientSession() as session:
            body = [_posted(a) for a in (cannot_start, failed_same, failed_other)]
            async with session.post(f"{am.url}/api/v2/alerts", json=body) as response:
                assert response.status == 200, await response.text()
            async with asyncio.timeout(20):
                while True:
                    alerts = await am.alerts()
                    if len(alerts) == 3:
                        break
                    await asyncio.sleep(0.2)
            return {
                f"{a['labels']['alertname']} {a['labels']['job_name']}": a["status"]["inhibitedBy"]
                for a in alerts
            }

    inhibited = asyncio.run(states())
    assert inhibited["JobCannotStart migrate"] == []
    assert inhibited["JobBackoffLimitExceeded import-1"] == []
    assert len(inhibited["JobBackoffLimitExceeded migrate"]) == 1
