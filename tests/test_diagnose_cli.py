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
    jobs = json.loads(capsys.readouterr().out)["jobs"]
    # Jobs in trouble first (root cause order), then the rest by name.
    assert [(j["name"], j["trouble"]) for j in jobs] == [
        ("cmd-not-found", "cannot_start"),
        ("config-app", "stalled"),
        ("invalid-image", "stalled"),
        ("fail-onfailure", None),
        ("hello-29620477", None),
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
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == [
        "generated_at",
        "total",
        "matched",
        "offset",
        "jobs",
        "counts",
        "namespaces",
        "cronjobs",
    ]
    assert doc["counts"]["state"] == {"failed": 4, "running": 1, "stalled": 2, "succeeded": 2}
    assert doc["counts"]["in_trouble"] == 7
    (hello,) = doc["cronjobs"]
    assert (hello["name"], hello["consecutive_failures"], hello["healthy"]) == ("hello", 0, True)
    for report in doc["jobs"]:
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
            "trouble",
            "restart_policy",
            "commands",
        ]


def test_help_explains_the_command() -> None:
    result = run(["diagnose", "--help"])
    assert result.returncode == 0
    assert "kubectl get jobs,pods" in result.stdout
    assert "--now" in result.stdout


def _runs_of(cronjob: str, *outcomes: str) -> dict[str, object]:
    items = []
    for n, outcome in enumerate(outcomes):
        conditions = [cond("Failed" if outcome == "failed" else "Complete")]
        run_ = job(name=f"{cronjob}-{29620470 + n}", cronjob=cronjob, conditions=conditions)
        run_["metadata"]["uid"] = f"uid-{cronjob}-{n}"
        items.append(run_)
    return {"kind": "JobList", "items": items}


def test_cronjob_selects_its_runs_and_job_hints_at_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dump = tmp_path / "d.json"
    dump.write_text(json.dumps(_runs_of("nightly-report", "failed", "succeeded")))
    assert main(["diagnose", "-f", str(dump), "-o", "json", "--cronjob", "nightly-report"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(j["name"] for j in doc["jobs"]) == [
        "nightly-report-29620470",
        "nightly-report-29620471",
    ]
    assert [c["name"] for c in doc["cronjobs"]] == ["nightly-report"]

    result = run(["diagnose", "-f", str(dump), "--job", "nightly-report"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "jobwatch: error: no Job named 'nightly-report', but a CronJob of that name owns 2 "
        "Job(s): use --cronjob nightly-report"
    ]
    result = run(["diagnose", "-f", str(dump), "--cronjob", "weekly"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jobwatch: error: no Jobs of CronJob 'weekly' in the input (CronJobs seen: nightly-report)"
    ]


def test_identical_documents_list_each_job_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = EXAMPLE.read_text()
    dump = tmp_path / "twice.json"
    dump.write_text(text + "\n" + text)
    assert main(["diagnose", "-f", str(dump), "-o", "json"]) == 0
    twice = json.loads(capsys.readouterr().out)
    assert main(["diagnose", "-f", str(EXAMPLE), "-o", "json"]) == 0
    once = json.loads(capsys.readouterr().out)
    assert twice["total"] == once["total"] == 9
    assert twice["jobs"] == once["jobs"]


def test_table_escapes_control_characters_in_names(tmp_path: Path) -> None:
    forged = "evil\r\x1b[2Kdefault/fine: SUCCEEDED\nnext"
    dump = tmp_path / "d.json"
    dump.write_text(
        json.dumps(
            {"kind": "Job", "metadata": {"namespace": "default", "name": forged, "uid": "u1"}}
        )
    )
    result = run(["diagnose", "-f", str(dump)])
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\r" not in result.stdout
    (headline,) = [line for line in result.stdout.splitlines() if "evil" in line]
    assert headline.startswith("default/evil\\x0d\\x1b[2Kdefault/fine: SUCCEEDED\\x0anext: ")


@pytest.mark.parametrize(
    ("policy", "container", "expected"),
    [
        (
            "Never",
            ctr(name="main", state=terminated(3)),  # a Never pod is never restarted
            "read the logs (kubectl -n default logs p-1 -c main); the program reported the error",
        ),
        (
            "OnFailure",
            ctr(name="main", restarts=1, last=terminated(3), state={"running": {}}),
            "read the logs (kubectl -n default logs p-1 -c main --previous); "
            "the program reported the error",
        ),
    ],
    ids=["never_current_run", "onfailure_previous_run"],
)
def test_log_advice_fits_the_restart_policy_and_names_the_pod(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    policy: str,
    container: dict[str, object],
    expected: str,
) -> None:
    phase = "Failed" if policy == "Never" else "Running"
    items = [
        job(restart_policy=policy, status={"active": 1}),
        pod(name="p-1", phase=phase, restart_policy=policy, containers=[container]),
    ]
    dump = tmp_path / "d.json"
    dump.write_text(json.dumps({"kind": "List", "items": items}))
    assert main(["diagnose", "-f", str(dump), "-o", "json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)["jobs"]
    assert report["advice"] == expected
    assert expected.split("(")[1].split(")", maxsplit=1)[0] in report["commands"]
