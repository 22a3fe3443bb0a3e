"""Every shared fixture through `jobwatch diagnose -o json`, field by field.

Expected values are derived from docs/job-semantics.md (cited as §n) and written here by hand.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jobwatch.cli import main
from tests.tools import unavailable

# A copy of the steering folder's fixtures (shared/fixtures, beside the repository), so a clone
# is self-contained; kept identical by a test below.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


def shared_fixtures() -> Path | None:
    """shared/fixtures beside the repository: beside this checkout (the CI clone), or beside the
    main checkout of a git worktree."""
    beside = [REPO.parent]
    common = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if common.returncode == 0:
        beside.append(Path(common.stdout.strip()).parent.parent)
    return next(
        (d / "shared" / "fixtures" for d in beside if (d / "shared" / "fixtures").is_dir()), None
    )


def _attempts(used: int, limit: int, remaining: int) -> dict[str, int]:
    return {"used": used, "limit": limit, "remaining": remaining}


def _exit(pod: str, container: str, code: int, reason: str, cause: str) -> dict[str, Any]:
    return {"pod": pod, "container": container, "code": code, "reason": reason, "cause": cause}


@dataclass(frozen=True)
class Expected:
    """What `jobwatch diagnose -o json` must say about the fixture's Job."""

    namespace: str
    name: str
    state: str
    reason: str
    attempts: dict[str, int]
    last_exit: dict[str, Any] | None
    cronjob: str = ""
    hidden: list[dict[str, Any]] = field(default_factory=list)
    stall: dict[str, str] | None = None
    deadline: str | None = None


EXPECTED: dict[str, Expected] = {
    # §1.2: backoffLimit 1 tolerates one failure; the second exceeds it.
    "backoff_limit_exceeded_never": Expected(
        namespace="job-8421",
        name="backofflimit",
        state="failed",
        reason="BackoffLimitExceeded",
        attempts=_attempts(2, 1, 0),
        last_exit=_exit("backofflimit-x9d4s", "c", 1, "Error", "app_error"),
    ),
    # §5.3: Complete with status.failed = 1.
    "complete_with_failed_pods": Expected(
        namespace="job-2207",
        name="fail-once-non-local",
        state="succeeded",
        reason="CompletionsReached",
        attempts=_attempts(1, 6, 5),
        last_exit=_exit("fail-once-non-local-2xq8d", "c", 1, "Error", "app_error"),
        hidden=[{"kind": "failed_pods_before_success", "count": 1}],
    ),
    # §4: a missing ConfigMap key keeps the pod Pending; nothing is ever counted.
    "createcontainerconfigerror_stall": Expected(
        namespace="default",
        name="config-app",
        state="stalled",
        reason="config_error",
        attempts=_attempts(0, 6, 6),
        last_exit=None,
        stall={"reason": "config_error", "since": "2026-05-04T16:00:00Z"},
    ),
    # §1.3 OnFailure: remaining = max(6, 1) - 1 - 0 restarts = 5.
    "cronjob_owned_job": Expected(
        namespace="default",
        name="hello-29620477",
        cronjob="hello",
        state="succeeded",
        reason="CompletionsReached",
        attempts=_attempts(0, 6, 5),
        last_exit=_exit("hello-29620477-bxk7j", "hello", 0, "Completed", "success"),
    ),
    # §1.13: the deleted active pods are counted; SIGKILL after the grace period at the deadline.
    "deadline_exceeded": Expected(
        namespace="job-5310",
        name="exceed-active-deadline",
        state="failed",
        reason="DeadlineExceeded",
        attempts=_attempts(2, 6, 0),
        last_exit=_exit("exceed-active-deadline-zl7pm", "c", 137, "Error", "deadline_exceeded"),
        deadline="2026-05-04T14:00:01Z",
    ),
    # §5.2: `sh -c missing` is the shell's 127 with reason Error, not StartError.
    "exit127_shell_command_not_found": Expected(
        namespace="default",
        name="cmd-not-found",
        state="failed",
        reason="BackoffLimitExceeded",
        attempts=_attempts(1, 0, 0),
        last_exit=_exit("cmd-not-found-q4w8z", "task", 127, "Error", "command_not_found"),
    ),
    # §4: backoffLimit 0 and still waiting forever.
    "imagepullbackoff_stall": Expected(
        namespace="default",
        name="invalid-image",
        state="stalled",
        reason="image_pull",
        attempts=_attempts(0, 0, 0),
        last_exit=None,
        stall={"reason": "image_pull", "since": "2026-05-04T15:00:00Z"},
    ),
    # §1.3: one restart of limit 3: min(3 - 0, 3 - 1 - 1) = 1 remaining.
    "onfailure_restarts_in_progress": Expected(
        namespace="default",
        name="fail-onfailure",
        state="running",
        reason="",
        attempts=_attempts(1, 3, 1),
        last_exit=_exit("fail-onfailure-7x2kq", "main", 1, "Error", "app_error"),
    ),
    # §5.2: 137 with reason OOMKilled.
    "oomkilled_137": Expected(
        namespace="mem-example",
        name="memory-demo-2",
        state="failed",
        reason="BackoffLimitExceeded",
        attempts=_attempts(1, 0, 0),
        last_exit=_exit("memory-demo-2-b8x7t", "memory-demo-2-ctr", 137, "OOMKilled", "oom_killed"),
    ),
}


def _as_list(path: Path) -> dict[str, Any]:
    fixture = json.loads(path.read_text())
    return {"apiVersion": "v1", "kind": "List", "items": [fixture["job"], *fixture["pods"]]}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_fixture_copies_match_shared() -> None:
    shared = shared_fixtures()
    if shared is None:
        unavailable(f"no shared/fixtures beside {REPO} to compare the copies with")
    originals = sorted(shared.glob("*.json"))
    assert [p.name for p in originals] == sorted(p.name for p in FIXTURES.glob("*.json"))
    for path in originals:
        assert (FIXTURES / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_diagnosis(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(_as_list(FIXTURES / f"{name}.json")))
    assert main(["diagnose", "-f", str(dump), "-o", "json", "--now", "2026-05-04T20:00:00Z"]) == 0
    (job,) = json.loads(capsys.readouterr().out)["jobs"]
    expected = EXPECTED[name]
    assert (job["namespace"], job["name"], job["cronjob"]) == (
        expected.namespace,
        expected.name,
        expected.cronjob,
    )
    assert (job["state"], job["reason"]) == (expected.state, expected.reason)
    assert job["attempts"] == expected.attempts
    if expected.last_exit is None:
        assert job["last_exit"] is None
    else:
        meaning = job["last_exit"].pop("meaning")
        assert job["last_exit"] == expected.last_exit
        assert meaning.startswith(f"exit {expected.last_exit['code']}: ")
    assert job["hidden_failures"] == expected.hidden
    stall = job["stall"]
    if stall is not None:  # its age is as of --now; the rest is the fixture's
        assert isinstance(stall.pop("age_seconds"), int)
    assert stall == expected.stall
    assert job["next_retry_at"] is None  # finished, stalled on a live pod, or no pod failure yet
    assert job["deadline_at"] == expected.deadline
    assert job["advice"]
