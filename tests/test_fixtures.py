"""Every shared fixture through `jobwatch diagnose -o json`, field by field.

Expected values are derived from docs/job-semantics.md (cited as §n) and written here by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobwatch.cli import main

# A copy of ../shared/fixtures, so a clone is self-contained; kept identical by a test below.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _attempts(used: int, limit: int, remaining: int) -> dict[str, int]:
    return {"used": used, "limit": limit, "remaining": remaining}


def _exit(pod: str, container: str, code: int, reason: str, cause: str) -> dict[str, Any]:
    return {"pod": pod, "container": container, "code": code, "reason": reason, "cause": cause}


# file: (namespace, name, cronjob, state, reason, attempts, last_exit, hidden, stall, deadline)
EXPECTED: dict[str, tuple[Any, ...]] = {
    # §1.2: backoffLimit 1 tolerates one failure; the second exceeds it.
    "backoff_limit_exceeded_never": (
        "job-8421",
        "backofflimit",
        "",
        "failed",
        "BackoffLimitExceeded",
        _attempts(2, 1, 0),
        _exit("backofflimit-x9d4s", "c", 1, "Error", "app_error"),
        [],
        None,
        None,
    ),
    # §5.3: Complete with status.failed = 1.
    "complete_with_failed_pods": (
        "job-2207",
        "fail-once-non-local",
        "",
        "succeeded",
        "CompletionsReached",
        _attempts(1, 6, 5),
        _exit("fail-once-non-local-2xq8d", "c", 1, "Error", "app_error"),
        [{"kind": "failed_pods_before_success", "count": 1}],
        None,
        None,
    ),
    # §4: a missing ConfigMap key keeps the pod Pending; nothing is ever counted.
    "createcontainerconfigerror_stall": (
        "default",
        "config-app",
        "",
        "stalled",
        "config_error",
        _attempts(0, 6, 6),
        None,
        [],
        {"reason": "config_error", "since": "2026-05-04T16:00:00Z"},
        None,
    ),
    # §1.3 OnFailure: remaining = max(6, 1) - 1 - 0 restarts = 5.
    "cronjob_owned_job": (
        "default",
        "hello-29620477",
        "hello",
        "succeeded",
        "CompletionsReached",
        _attempts(0, 6, 5),
        _exit("hello-29620477-bxk7j", "hello", 0, "Completed", "success"),
        [],
        None,
        None,
    ),
    # §1.13: the deleted active pods are counted; SIGKILL after the grace period at the deadline.
    "deadline_exceeded": (
        "job-5310",
        "exceed-active-deadline",
        "",
        "failed",
        "DeadlineExceeded",
        _attempts(2, 6, 0),
        _exit("exceed-active-deadline-zl7pm", "c", 137, "Error", "deadline_exceeded"),
        [],
        None,
        "2026-05-04T14:00:01Z",
    ),
    # §5.2: `sh -c missing` is the shell's 127 with reason Error, not StartError.
    "exit127_shell_command_not_found": (
        "default",
        "cmd-not-found",
        "",
        "failed",
        "BackoffLimitExceeded",
        _attempts(1, 0, 0),
        _exit("cmd-not-found-q4w8z", "task", 127, "Error", "command_not_found"),
        [],
        None,
        None,
    ),
    # §4: backoffLimit 0 and still waiting forever.
    "imagepullbackoff_stall": (
        "default",
        "invalid-image",
        "",
        "stalled",
        "image_pull",
        _attempts(0, 0, 0),
        None,
        [],
        {"reason": "image_pull", "since": "2026-05-04T15:00:00Z"},
        None,
    ),
    # §1.3: one restart of limit 3: min(3 - 0, 3 - 1 - 1) = 1 remaining.
    "onfailure_restarts_in_progress": (
        "default",
        "fail-onfailure",
        "",
        "running",
        "",
        _attempts(1, 3, 1),
        _exit("fail-onfailure-7x2kq", "main", 1, "Error", "app_error"),
        [],
        None,
        None,
    ),
    # §5.2: 137 with reason OOMKilled.
    "oomkilled_137": (
        "mem-example",
        "memory-demo-2",
        "",
        "failed",
        "BackoffLimitExceeded",
        _attempts(1, 0, 0),
        _exit("memory-demo-2-b8x7t", "memory-demo-2-ctr", 137, "OOMKilled", "oom_killed"),
        [],
        None,
        None,
    ),
}


def _as_list(path: Path) -> dict[str, Any]:
    fixture = json.loads(path.read_text())
    return {"apiVersion": "v1", "kind": "List", "items": [fixture["job"], *fixture["pods"]]}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_fixture_copies_match_shared() -> None:
    if not SHARED.is_dir():
        return  # a clone without shared/ beside it: the copies are the fixtures
    for path in SHARED.glob("*.json"):
        assert (FIXTURES / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_diagnosis(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(_as_list(FIXTURES / f"{name}.json")))
    assert main(["diagnose", "-f", str(dump), "-o", "json", "--now", "2026-05-04T20:00:00Z"]) == 0
    (job,) = json.loads(capsys.readouterr().out)["jobs"]
    ns, job_name, cronjob, state, reason, attempts, last_exit, hidden, stall, deadline = EXPECTED[
        name
    ]
    assert (job["namespace"], job["name"], job["cronjob"]) == (ns, job_name, cronjob)
    assert (job["state"], job["reason"]) == (state, reason)
    assert job["attempts"] == attempts
    if last_exit is None:
        assert job["last_exit"] is None
    else:
        meaning = job["last_exit"].pop("meaning")
        assert job["last_exit"] == last_exit
        assert meaning.startswith(f"exit {last_exit['code']}: ")
    assert job["hidden_failures"] == hidden
    assert job["stall"] == stall
    assert job["next_retry_at"] is None  # finished, stalled on a live pod, or no pod failure yet
    assert job["deadline_at"] == deadline
    assert job["advice"]
