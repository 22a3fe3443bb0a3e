"""Exit-code causes (docs/job-semantics.md §5.2), the backoff sequence and a failed pod's finish
time (§3.1). kubectl's STATUS column is tests/test_printer.py."""

from __future__ import annotations

from typing import Any

import pytest

from jobwatch.analysis.backoff import backoff_delay, pod_finish_time
from jobwatch.analysis.exits import classify, container_exits, last_exit
from jobwatch.model import parse_pod
from tests.builders import T0_EPOCH, cond, ctr, pod, running, terminated, waiting


@pytest.mark.parametrize(
    ("code", "reason", "cause"),
    [
        (0, "Completed", "success"),
        (1, "Error", "app_error"),
        (2, "Error", "app_error"),
        (255, "Error", "app_error"),
        (126, "Error", "not_executable"),
        (127, "Error", "command_not_found"),
        (128, "StartError", "start_error"),
        (127, "ContainerCannotRun", "start_error"),  # dockershim-era Docker reported 127
        (137, "OOMKilled", "oom_killed"),
        (137, "Error", "sigkill"),
        (137, "ContainerStatusUnknown", "unknown"),
        (139, "Error", "segfault"),
        (143, "Error", "sigterm"),
        (130, "Error", "signal"),  # SIGINT
        (134, "Error", "signal"),  # SIGABRT
        (-1, "", "unknown"),
        (1000, "Error", "unknown"),
    ],
    ids=str,
)
def test_s5_cause_of_an_exit(code: int, reason: str, cause: str) -> None:
    assert classify(code, reason).value == cause


def test_s5_context_turns_kills_into_evictions_and_deadlines() -> None:
    assert classify(143, "Error", evicted=True).value == "evicted"
    assert classify(137, "Error", deadline=True).value == "deadline_exceeded"
    assert classify(137, "OOMKilled", deadline=True).value == "oom_killed"
    assert classify(1, "Error", deadline=True).value == "app_error"


def test_s3_1_backoff_sequence_doubles_from_10s_and_caps_at_10_minutes() -> None:
    assert [backoff_delay(n) for n in range(10)] == [0, 10, 20, 40, 80, 160, 320, 600, 600, 600]


FINISH_CASES = [
    # (id, pod kwargs, expected finish offset)
    (
        "all_regular_terminated_latest_wins",
        {"containers": [ctr("a", terminated(1, finished=4)), ctr("b", terminated(0, finished=7))]},
        7,
    ),
    (
        "a_terminated_sidecar_finishing_later_wins",
        {
            "containers": [ctr(state=terminated(1, finished=4))],
            "sidecars": [ctr("proxy", terminated(143, finished=9))],
        },
        9,
    ),
    (
        "a_running_sidecar_voids_the_containers",
        {
            "containers": [ctr(state=terminated(1, finished=4))],
            "sidecars": [ctr("proxy", running())],
            "conditions": [cond("Ready", "False", at_=6)],
        },
        6,
    ),
    (
        "a_running_regular_container_voids_the_others",
        {
            "containers": [ctr("a", terminated(1, finished=4)), ctr("b", running())],
            "conditions": [cond("Ready", "False", at_=8)],
        },
        8,
    ),
    (
        "plain_init_containers_never_count",
        {
            "init": [ctr("setup", terminated(3, finished=4))],
            "containers": [ctr(state=waiting("PodInitializing"))],
            "conditions": [cond("Ready", "False", at_=5)],
        },
        5,
    ),
    (
        "sidecars_alone_when_no_regular_container_ran",
        {
            "sidecars": [ctr("proxy", terminated(137, finished=11))],
            "init": [ctr("setup", terminated(3, finished=4))],
            "containers": [ctr(state=waiting("PodInitializing"))],
        },
        11,
    ),
    (
        "ready_true_is_not_a_finish",
        {
            "containers": [ctr(state=running())],
            "conditions": [cond("Ready", "True", at_=3)],
            "deleting": 40,
        },
        40 - 30,
    ),
    (
        "deletion_minus_grace",
        {"containers": [ctr(state=waiting("ContainerCreating"))], "deleting": 50},
        20,
    ),
    (
        "creation_time_last",
        {"containers": [ctr(state=waiting("ContainerCreating"))], "created": 2},
        2,
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "finish"), [c[1:] for c in FINISH_CASES], ids=[c[0] for c in FINISH_CASES]
)
def test_s3_1_pod_finish_time_getFinishedTime(kwargs: dict[str, Any], finish: float) -> None:
    assert pod_finish_time(parse_pod(pod(phase="Failed", **kwargs))) == T0_EPOCH + finish


def _last(obj: dict[str, Any], *, deadline: bool = False) -> tuple[int, str] | None:
    pod_ = parse_pod(obj)
    assert pod_ is not None
    info = last_exit(container_exits([pod_], job_deadline_exceeded=deadline))
    return None if info is None else (info.code, info.cause.value)


def test_s5_2_the_kill_that_deleting_a_crash_looping_pod_sent_does_not_hide_the_crash() -> None:
    """The Job controller deletes an OnFailure pod once the Job failed; the SIGTERM that ends it
    comes after the deletion was asked for (deletionTimestamp less the 30 s grace period), while
    the crash that failed the Job is in lastState."""
    crashed = ctr(state=terminated(143, finished=30), last=terminated(1, finished=20), restarts=3)
    assert _last(pod(containers=[crashed], deleting=55, restart_policy="OnFailure")) == (
        1,
        "app_error",
    )
    # Not deleted: the 143 is what happened last, and says so.
    assert _last(pod(containers=[crashed], restart_policy="OnFailure")) == (143, "sigterm")
    # Killed before the deletion began: not deletion's doing.
    assert _last(pod(containers=[crashed], deleting=61, restart_policy="OnFailure")) == (
        143,
        "sigterm",
    )


def test_s5_2_a_deletion_kill_is_still_the_last_exit_when_nothing_else_failed() -> None:
    """A running pod deleted at the Job's deadline: its SIGTERM is the only exit there is."""
    killed = ctr(state=terminated(143, finished=30))
    assert _last(pod(containers=[killed], deleting=55), deadline=True) == (143, "deadline_exceeded")
