"""`jobwatch diagnose` as a user runs it: inputs, filters, output and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobwatch.cli import main
from tests.builders import cond, ctr, job, pod, terminated

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "jobs-and-pods.json"


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobwatch", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "empty input"),
        ("{not json", "not JSON at line 1"),
        ('{"kind": "Service", "metadata": {}}', "got kind 'Service'"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"kind": "List", "items": 3}', "List has no items list"),
    ],
    ids=["empty", "not_json", "wrong_kind", "array", "bad_items"],
)
def test_bad_input_is_one_line_and_exit_2(stdin: str, message: str) -> None:
    result = run(["diagnose", "-f", "-"], stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_file_and_bad_now_are_one_line(tmp_path: Path) -> None:
    assert "cannot read" in run(["diagnose", "-f", str(tmp_path / "nope.json")]).stderr
    bad_now = run(["diagnose", "-f", str(EXAMPLE), "--now", "noon"])
    assert bad_now.returncode == 2
    assert "not an RFC 3339 time" in bad_now.stderr


def test_objects_with_missing_fields_are_still_analysed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dump = tmp_path / "d.json"
    dump.write_text(json.dumps({"kind": "Job", "metadata": {"name": "bare"}}))
    assert main(["diagnose", "-f", str(dump), "-o", "json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)["jobs"]
    assert (report["name"], report["state"], report["attempts"]["limit"]) == ("bare", "stalled", 6)


def test_concatenated_job_and_pod_lists_are_joined(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jobs = {
        "kind": "JobList",
        "items": [
            job(
                backoff_limit=0,
                status={"failed": 1, "active": 0},
                conditions=[cond("Failed", reason="BackoffLimitExceeded")],
            )
        ],
    }
    pods = {
        "kind": "PodList",
        "items": [pod(phase="Failed", tracked=False, containers=[ctr(state=terminated(139))])],
    }
    dump = tmp_path / "d.json"
    dump.write_text(json.dumps(jobs) + "\n" + json.dumps(pods))
    assert main(["diagnose", "-f", str(dump), "-o", "json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)["jobs"]
    assert report["last_exit"]["cause"] == "segfault"


def test_filters_select_namespace_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "-f", str(EXAMPLE), "-o", "json", "-n", "default"]) == 0
    names = [j["name"] for j in json.loads(capsys.readouterr().out)["jobs"]]
    assert names == [
        "cmd-not-found",
        "config-app",
        "fail-onfailure",
        "hello-29620477",
        "invalid-image",
    ]
    assert main(["diagnose", "-f", str(EXAMPLE), "-o", "json", "--job", "backofflimit"]) == 0
    assert [j["namespace"] for j in json.loads(capsys.readouterr().out)["jobs"]] == ["job-8421"]


def test_table_explains_each_job_with_advice() -> None:
    result = run(["diagnose", "-f", "-", "--now", "2026-05-04T20:00:00Z"], EXAMPLE.read_text())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mem-example/memory-demo-2: FAILED BackoffLimitExceeded" in out
    assert "last exit 137 (OOMKilled)" in out
    assert "raise resources.limits.memory" in out
    assert "default/invalid-image: STALLED image_pull" in out
    assert "stalled   image_pull for 5h" in out
    assert "hidden    failed_pods_before_success=1" in out
    assert "(CronJob hello)" in out
    assert out.count("  advice    ") == 9


def test_json_is_the_documented_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "-f", str(EXAMPLE), "-o", "json"]) == 0
    for report in json.loads(capsys.readouterr().out)["jobs"]:
        assert list(report) == [
            "namespace",
            "name",
            "cronjob",
            "state",
            "reason",
            "attempts",
            "last_exit",
            "hidden_failures",
            "stall",
            "next_retry_at",
            "deadline_at",
            "advice",
        ]


def test_help_explains_the_command() -> None:
    result = run(["diagnose", "--help"])
    assert result.returncode == 0
    assert "kubectl get jobs,pods" in result.stdout
    assert "--now" in result.stdout
