"""Table-driven analysis cases, one per rule of docs/job-semantics.md, named after its section
(`s1_10_…` is §1.10).

Expected values are derived by hand from the spec, never read back from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from jobwatch.analysis import analyse
from jobwatch.model import parse_job, parse_pod
from tests.builders import (
    T0_EPOCH,
    at,
    cond,
    ctr,
    job,
    on_condition,
    on_exit,
    pfp,
    pod,
    running,
    terminated,
    waiting,
)

UNSET: Any = object()


@dataclass
class Case:
    id: str
    job: dict[str, Any]
    pods: list[dict[str, Any]] = field(default_factory=list)
    now: float = 60
    state: str = UNSET
    reason: str = UNSET
    attempts: tuple[int, int, int] | None = UNSET
    last_exit: tuple[int, str] | None = UNSET
    hidden: dict[str, int] = UNSET
    stall: tuple[str, float] | None = UNSET
    next_retry: float | None = UNSET
    deadline: float | None = UNSET
    failed_indexes: int | None = UNSET


FAILED_BLE = [
    cond("FailureTarget", reason="BackoffLimitExceeded", at_=20),
    cond("Failed", reason="BackoffLimitExceeded", at_=20),
]
DONE = {"active": 0}


def failed_pod(name: str, code: int = 1, finished: float = 5, **kw: Any) -> dict[str, Any]:
    return pod(
        name, phase="Failed", containers=[ctr(state=terminated(code, finished=finished))], **kw
    )


def ok_pod(name: str, finished: float = 5, **kw: Any) -> dict[str, Any]:
    return pod(
        name, phase="Succeeded", containers=[ctr(state=terminated(0, finished=finished))], **kw
    )


CASES = [
    # §1.1 isPodFailed
    Case(
        "s1_1_failed_phase_counts_before_status_catches_up",
        job(),
        [failed_pod("a")],
        attempts=(1, 6, 5),
        state="running",
    ),
    Case(
        "s1_1_terminating_pod_counts_at_once_with_TerminatingOrFailed",
        job(),
        [pod("a", deleting=10)],
        attempts=(1, 6, 5),
    ),
    Case(
        "s1_1_terminating_pod_not_counted_with_podReplacementPolicy_Failed",
        job(spec={"podReplacementPolicy": "Failed"}),
        [pod("a", deleting=10)],
        attempts=(0, 6, 6),
    ),
    Case(
        "s1_1_terminating_pod_not_counted_with_podFailurePolicy",
        job(spec=pfp(on_exit("Count", "In", [42]))),
        [pod("a", deleting=10)],
        attempts=(0, 6, 6),
    ),
    Case(
        "s1_1_terminating_pod_that_succeeded_is_not_failed",
        job(),
        [ok_pod("a", deleting=10)],
        attempts=(0, 6, 6),
    ),
    Case(
        "s1_1_pending_pod_is_not_failed",
        job(),
        [pod("a", phase="Pending", containers=[ctr(state=waiting("ContainerCreating"))])],
        attempts=(0, 6, 6),
        state="running",
        stall=None,
    ),
    # §1.2 Never: fails on exceeding the limit
    Case(
        "s1_2_never_limit_1_after_one_failure_the_current_attempt_is_the_last",
        job(backoff_limit=1, status={"failed": 1}),
        [pod("b")],
        attempts=(1, 1, 0),
        state="running",
    ),
    Case(
        "s1_2_never_fails_on_exceeding_the_limit",
        job(backoff_limit=1, status={"failed": 2, **DONE}, conditions=FAILED_BLE),
        [failed_pod("a", tracked=False), failed_pod("b", finished=16, tracked=False)],
        state="failed",
        reason="BackoffLimitExceeded",
        attempts=(2, 1, 0),
        next_retry=None,
    ),
    Case(
        "s1_2_never_limit_0_the_first_attempt_is_the_last",
        job(backoff_limit=0),
        [pod("a")],
        attempts=(0, 0, 0),
    ),
    Case(
        "s1_2_never_limit_6_six_failures_still_running",
        job(status={"failed": 6}),
        [pod("g")],
        attempts=(6, 6, 0),
        state="running",
    ),
    Case(
        "s1_2_default_backoff_limit_is_6", job(backoff_limit=None), [pod("a")], attempts=(0, 6, 6)
    ),
    # §1.3 OnFailure: restarts of Running/Pending pods, failing on reaching the limit
    Case(
        "s1_3_onfailure_restarts_count",
        job(restart_policy="OnFailure", backoff_limit=3),
        [
            pod(
                "a",
                restart_policy="OnFailure",
                containers=[ctr(state=waiting("CrashLoopBackOff"), last=terminated(1), restarts=1)],
            )
        ],
        attempts=(1, 3, 1),
        last_exit=(1, "app_error"),
    ),
    Case(
        "s1_3_onfailure_fails_on_reaching_the_limit",
        job(restart_policy="OnFailure", backoff_limit=2),
        [pod("a", restart_policy="OnFailure", containers=[ctr(restarts=1)])],
        attempts=(1, 2, 0),
    ),
    Case(
        "s1_3_onfailure_limit_1_first_restart_is_fatal",
        job(restart_policy="OnFailure", backoff_limit=1),
        [pod("a", restart_policy="OnFailure")],
        attempts=(0, 1, 0),
    ),
    Case(
        "s1_3_onfailure_limit_0_behaves_as_limit_1",
        job(restart_policy="OnFailure", backoff_limit=0),
        [pod("a", restart_policy="OnFailure")],
        attempts=(0, 0, 0),
    ),
    Case(
        "s1_3_onfailure_restarts_of_finished_pods_are_not_summed",
        job(restart_policy="OnFailure", backoff_limit=3, status={"succeeded": 1}),
        [
            pod(
                "a",
                phase="Succeeded",
                restart_policy="OnFailure",
                containers=[ctr(state=terminated(0), restarts=5)],
            ),
            pod("b", restart_policy="OnFailure"),
        ],
        attempts=(0, 3, 2),
    ),
    Case(
        "s1_3_onfailure_sum_is_across_pods",
        job(restart_policy="OnFailure", backoff_limit=3, spec={"parallelism": 2}),
        [
            pod("a", restart_policy="OnFailure", containers=[ctr(restarts=1)]),
            pod("b", restart_policy="OnFailure", containers=[ctr(restarts=1)]),
        ],
        attempts=(2, 3, 0),
    ),
    Case(
        "s1_3_onfailure_pod_failures_also_count",
        job(restart_policy="OnFailure", backoff_limit=3, status={"failed": 2}),
        [pod("a", restart_policy="OnFailure")],
        attempts=(2, 3, 1),
    ),
    Case(
        "s1_3_onfailure_failed_job_counts_deleted_pods_not_restarts",
        job(
            restart_policy="OnFailure",
            backoff_limit=2,
            status={"failed": 1, **DONE},
            conditions=FAILED_BLE,
        ),
        [],
        state="failed",
        attempts=(1, 2, 0),
    ),
    # §1.4 init containers
    Case(
        "s1_4_onfailure_init_container_restarts_are_summed",
        job(restart_policy="OnFailure", backoff_limit=4),
        [
            pod(
                "a",
                phase="Pending",
                restart_policy="OnFailure",
                init=[
                    ctr("setup", state=waiting("CrashLoopBackOff"), last=terminated(2), restarts=2)
                ],
                containers=[ctr(state=waiting("PodInitializing"))],
            )
        ],
        attempts=(2, 4, 1),
        last_exit=(2, "app_error"),
        stall=None,
    ),
    Case(
        "s1_4_never_failing_init_container_fails_the_pod_once",
        job(),
        [
            pod(
                "a",
                phase="Failed",
                init=[ctr("setup", state=terminated(3, finished=4))],
                containers=[ctr(state=waiting("PodInitializing"))],
            )
        ],
        attempts=(1, 6, 5),
        last_exit=(3, "app_error"),
    ),
    # §1.5 native sidecars
    Case(
        "s1_5_sidecar_stopped_at_pod_end_is_not_a_failure",
        job(status={"succeeded": 1, **DONE}, conditions=[cond("Complete", at_=9)]),
        [
            pod(
                "a",
                phase="Succeeded",
                sidecars=[ctr("proxy", state=terminated(143, finished=7))],
                containers=[ctr(state=terminated(0, finished=6))],
            )
        ],
        state="succeeded",
        reason="Completed",
        hidden={},
        last_exit=(0, "success"),
    ),
    Case(
        "s1_5_sidecar_that_never_exits_as_a_regular_container_stalls",
        job(),
        [
            pod(
                "a",
                containers=[
                    ctr("app", state=terminated(0, finished=30)),
                    ctr("proxy", state=running()),
                ],
            )
        ],
        now=4000,
        state="stalled",
        stall=("sidecar_never_exits", 30),
    ),
    # §1.6 restartPolicyRules: in-place restarts under Never do not count
    Case(
        "s1_6_never_in_place_restarts_do_not_count",
        job(),
        [pod("a", containers=[ctr(restarts=2, last=terminated(1))])],
        attempts=(0, 6, 6),
    ),
    # §1.7 uncountedTerminatedPods and the tracking finalizer
    Case(
        "s1_7_uncounted_failed_pod_is_counted_once",
        job(status={"failed": 1, "uncountedTerminatedPods": {"failed": ["uid-b"]}}),
        [failed_pod("a", tracked=False), failed_pod("b"), pod("c")],
        attempts=(2, 6, 4),
    ),
    Case(
        "s1_7_pod_without_finalizer_was_already_counted",
        job(status={"failed": 1}),
        [failed_pod("a", tracked=False), pod("b")],
        attempts=(1, 6, 5),
    ),
    Case(
        "s1_7_indexed_pod_with_index_out_of_range_is_not_counted",
        job(spec={"completionMode": "Indexed", "completions": 2}),
        [failed_pod("a", index=5), pod("b", index=0)],
        attempts=(0, 6, 6),
    ),
    # §1.8 DisruptionTarget
    Case(
        "s1_8_disruption_counts_by_default",
        job(),
        [
            pod(
                "a",
                phase="Failed",
                reason="Evicted",
                conditions=[cond("DisruptionTarget", reason="EvictionByEvictionAPI")],
                containers=[ctr(state=terminated(143))],
            )
        ],
        attempts=(1, 6, 5),
        last_exit=(143, "evicted"),
    ),
    Case(
        "s1_8_disruption_ignored_by_policy_is_not_counted",
        job(spec=pfp(on_condition("Ignore", "DisruptionTarget"))),
        [
            pod(
                "a",
                phase="Failed",
                conditions=[cond("DisruptionTarget", reason="PreemptionByScheduler")],
                containers=[ctr(state=terminated(137))],
            )
        ],
        attempts=(0, 6, 6),
        hidden={"ignored_by_pod_failure_policy": 1},
    ),
    # §1.9 podFailurePolicy
    Case(
        "s1_9_failjob_sets_failure_target_and_fails_at_once",
        job(
            spec=pfp(on_exit("FailJob", "In", [42])),
            status={"failed": 1},
            conditions=[cond("FailureTarget", reason="PodFailurePolicy", at_=8)],
        ),
        [failed_pod("a", code=42, tracked=False)],
        state="failed",
        reason="PodFailurePolicy",
        attempts=(1, 6, 0),
        last_exit=(42, "app_error"),
    ),
    Case(
        "s1_9_first_matching_rule_wins",
        job(spec=pfp(on_exit("Ignore", "In", [42]), on_exit("FailJob", "In", [42]))),
        [failed_pod("a", code=42), pod("b")],
        attempts=(0, 6, 6),
        hidden={"ignored_by_pod_failure_policy": 1},
    ),
    Case(
        "s1_9_count_action_counts",
        job(spec=pfp(on_exit("Count", "In", [42]), on_exit("Ignore", "In", [42]))),
        [failed_pod("a", code=42), pod("b")],
        attempts=(1, 6, 5),
        hidden={},
    ),
    Case(
        "s1_9_unknown_action_is_skipped",
        job(spec=pfp(on_exit("SomeFutureAction", "In", [42]), on_exit("Ignore", "In", [42]))),
        [failed_pod("a", code=42), pod("b")],
        attempts=(0, 6, 6),
    ),
    Case(
        "s1_9_notin_matches_other_codes",
        job(spec=pfp(on_exit("Ignore", "NotIn", [1]))),
        [failed_pod("a", code=2), failed_pod("b", code=1), pod("c")],
        attempts=(1, 6, 5),
    ),
    Case(
        "s1_9_container_name_restricts_the_rule",
        job(spec=pfp(on_exit("Ignore", "In", [42], container="other"))),
        [failed_pod("a", code=42), pod("b")],
        attempts=(1, 6, 5),
    ),
    Case(
        "s1_9_no_match_is_counted",
        job(spec=pfp(on_condition("Ignore", "DisruptionTarget"))),
        [failed_pod("a"), pod("b")],
        attempts=(1, 6, 5),
    ),
    Case(
        "s1_9_fail_index_closes_the_index_at_once",
        job(
            backoff_limit=None,
            spec={
                **pfp(on_exit("FailIndex", "In", [3])),
                "completionMode": "Indexed",
                "completions": 2,
                "backoffLimitPerIndex": 4,
            },
        ),
        [failed_pod("a0", code=3, index=0, index_failures=0), pod("a1", index=1, index_failures=1)],
        attempts=(1, 4, 3),
    ),
    Case(
        "s1_9_fail_index_without_per_index_limit_is_skipped",
        job(spec=pfp(on_exit("FailIndex", "In", [3]), on_exit("Ignore", "In", [3]))),
        [failed_pod("a", code=3), pod("b")],
        attempts=(0, 6, 6),
    ),
    # §1.10 backoffLimitPerIndex
    Case(
        "s1_10_per_index_remaining_is_the_minimum_over_open_indexes",
        job(
            backoff_limit=None,
            spec={
                "completionMode": "Indexed",
                "completions": 3,
                "parallelism": 3,
                "backoffLimitPerIndex": 2,
            },
        ),
        [
            failed_pod("a0", index=0, index_failures=0, finished=4),
            pod("b0", index=0, index_failures=1),
            pod("a1", index=1, index_failures=0),
            pod("a2", index=2, index_failures=0),
        ],
        attempts=(1, 2, 1),
        failed_indexes=0,
    ),
    Case(
        "s1_10_failed_indexes_are_closed_and_reported",
        job(
            backoff_limit=None,
            spec={
                "completionMode": "Indexed",
                "completions": 3,
                "backoffLimitPerIndex": 1,
                "maxFailedIndexes": 2,
            },
            status={"failedIndexes": "1", "completedIndexes": "0"},
        ),
        [failed_pod("a1", index=1, index_failures=1, tracked=False), pod("a2", index=2)],
        attempts=(0, 1, 1),
        failed_indexes=1,
    ),
    Case(
        "s1_10_max_failed_indexes_exceeded_fails_the_job",
        job(
            backoff_limit=None,
            spec={
                "completionMode": "Indexed",
                "completions": 4,
                "backoffLimitPerIndex": 0,
                "maxFailedIndexes": 1,
            },
            status={"failedIndexes": "0,2", **DONE},
            conditions=[
                cond("FailureTarget", reason="MaxFailedIndexesExceeded", at_=9),
                cond("Failed", reason="MaxFailedIndexesExceeded", at_=9),
            ],
        ),
        [],
        state="failed",
        reason="MaxFailedIndexesExceeded",
        attempts=(0, 0, 0),
        failed_indexes=2,
    ),
    Case(
        "s1_10_global_backoff_limit_still_binds_a_per_index_job",
        job(
            backoff_limit=2,
            spec={
                "completionMode": "Indexed",
                "completions": 3,
                "parallelism": 3,
                "backoffLimitPerIndex": 3,
            },
            status={"failed": 2},
        ),
        [
            pod("b0", index=0, index_failures=1),
            pod("b1", index=1, index_failures=1),
            pod("a2", index=2, index_failures=0),
        ],
        attempts=(2, 2, 0),
        state="running",
    ),
    Case(
        "s1_10_a_per_index_job_the_global_limit_failed_reports_the_global_budget",
        job(
            backoff_limit=1,
            spec={
                "completionMode": "Indexed",
                "completions": 2,
                "parallelism": 2,
                "backoffLimitPerIndex": 3,
            },
            status={"failed": 3, **DONE},
            conditions=FAILED_BLE,
        ),
        [
            failed_pod("a0", index=0, index_failures=0, tracked=False),
            failed_pod("b0", index=0, index_failures=1, tracked=False),
            failed_pod("a1", index=1, index_failures=0, code=137, tracked=False),
        ],
        state="failed",
        reason="BackoffLimitExceeded",
        attempts=(3, 1, 0),
    ),
    Case(
        "s1_10_per_index_budget_when_it_is_the_tighter_one",
        job(
            backoff_limit=10,
            spec={
                "completionMode": "Indexed",
                "completions": 2,
                "parallelism": 2,
                "backoffLimitPerIndex": 1,
            },
            status={"failed": 1},
        ),
        [pod("b0", index=0, index_failures=1), pod("a1", index=1, index_failures=0)],
        attempts=(1, 1, 0),
    ),
    Case(
        "s3_1_per_index_retry_skips_an_index_that_has_just_failed",
        job(
            backoff_limit=None,
            spec={
                "completionMode": "Indexed",
                "completions": 2,
                "parallelism": 2,
                "backoffLimitPerIndex": 1,
            },
            status={"active": 0},
        ),
        [
            failed_pod("b0", index=0, index_failures=1, finished=5),
            failed_pod("a1", index=1, index_failures=0, finished=30),
        ],
        now=31,
        next_retry=40,
    ),
    Case(
        "s1_10_per_index_backoff_uses_the_index_failure_count",
        job(
            backoff_limit=None,
            spec={"completionMode": "Indexed", "completions": 1, "backoffLimitPerIndex": 5},
        ),
        [failed_pod("a0", index=0, index_failures=2, finished=10)],
        now=12,
        next_retry=10 + 40,
        attempts=(3, 5, 2),
    ),
    # §1.12 successPolicy
    Case(
        "s1_12_success_policy_met_with_failed_indexes_hides_them",
        job(
            backoff_limit=None,
            spec={"completionMode": "Indexed", "completions": 4, "backoffLimitPerIndex": 1},
            status={"failedIndexes": "0,2", "succeeded": 1, **DONE},
            conditions=[
                cond("SuccessCriteriaMet", reason="SuccessPolicy", at_=30),
                cond("Complete", reason="SuccessPolicy", at_=31),
            ],
        ),
        [],
        state="succeeded",
        reason="SuccessPolicy",
        hidden={"failed_indexes_despite_success": 2},
    ),
    # §1.13 activeDeadlineSeconds
    Case(
        "s1_13_deadline_is_start_plus_active_deadline_seconds",
        job(spec={"activeDeadlineSeconds": 600}),
        [pod("a")],
        deadline=600,
    ),
    Case(
        "s1_13_no_deadline_while_suspended_even_before_start_time_is_cleared",
        job(
            spec={"activeDeadlineSeconds": 600, "suspend": True},
            status={"active": 0},
            conditions=[cond("Suspended", reason="JobSuspended", at_=30)],
        ),
        [],
        now=700,
        state="suspended",
        deadline=None,
    ),
    Case(
        "s1_13_resume_restarts_the_deadline_clock",
        job(
            spec={"activeDeadlineSeconds": 600},
            status={"startTime": at(300)},
            conditions=[cond("Suspended", status="False", reason="JobResumed", at_=300)],
        ),
        [pod("a", created=300)],
        now=700,
        state="running",
        deadline=900,
    ),
    Case(
        "s1_13_deadline_exceeded_pods_killed_by_the_controller",
        job(
            spec={"activeDeadlineSeconds": 1},
            status={"failed": 1, **DONE},
            conditions=[
                cond("FailureTarget", reason="DeadlineExceeded", at_=1),
                cond("Failed", reason="DeadlineExceeded", at_=32),
            ],
        ),
        [failed_pod("a", code=137, finished=31, deleting=1, tracked=False)],
        state="failed",
        reason="DeadlineExceeded",
        last_exit=(137, "deadline_exceeded"),
        deadline=1,
    ),
    Case(
        "s1_13_pod_level_deadline_fails_the_pod",
        job(),
        [
            pod(
                "a",
                phase="Failed",
                reason="DeadlineExceeded",
                containers=[ctr(state=terminated(143))],
            )
        ],
        attempts=(1, 6, 5),
        last_exit=(143, "deadline_exceeded"),
    ),
    # §1.14 suspend
    Case(
        "s1_14_suspended_job_is_not_stalled",
        job(
            spec={"suspend": True},
            status={"active": 0},
            conditions=[cond("Suspended", reason="JobSuspended")],
        ),
        [],
        now=99999,
        state="suspended",
        reason="JobSuspended",
        stall=None,
    ),
    # §1.15 managedBy
    Case(
        "s1_15_externally_managed_job_gets_no_budget",
        job(spec={"managedBy": "kueue.x-k8s.io/multikueue"}),
        [failed_pod("a")],
        state="external",
        attempts=None,
    ),
    Case(
        "s1_15_managed_by_the_job_controller_is_ours",
        job(spec={"managedBy": "kubernetes.io/job-controller"}),
        [pod("a")],
        state="running",
    ),
    # §1.16 conditions
    Case(
        "s1_16_failure_target_alone_means_failed",
        job(
            status={"failed": 2}, conditions=[cond("FailureTarget", reason="BackoffLimitExceeded")]
        ),
        [pod("a", deleting=20)],
        state="failed",
        reason="BackoffLimitExceeded",
    ),
    Case(
        "s1_16_success_criteria_met_alone_means_succeeded",
        job(
            status={"succeeded": 1},
            conditions=[cond("SuccessCriteriaMet", reason="CompletionsReached")],
        ),
        [ok_pod("a")],
        state="succeeded",
        reason="CompletionsReached",
    ),
    Case(
        "s1_16_complete_with_empty_reason_reads_completed",
        job(status={"succeeded": 1, **DONE}, conditions=[cond("Complete")]),
        [ok_pod("a")],
        state="succeeded",
        reason="Completed",
    ),
    Case(
        "s1_16_false_conditions_are_ignored",
        job(conditions=[cond("Failed", status="False")]),
        [pod("a")],
        state="running",
    ),
    # §3.1 pod-recreation backoff
    Case(
        "s3_1_first_replacement_waits_10s_from_the_finish",
        job(status={"active": 0}),
        [failed_pod("a", finished=5)],
        now=6,
        next_retry=15,
        stall=None,
    ),
    Case(
        "s3_1_retry_counts_from_ready_false_while_a_sidecar_still_runs",
        job(status={"active": 0}),
        [
            pod(
                "a",
                phase="Failed",
                sidecars=[ctr("proxy", state=running())],
                containers=[ctr(state=terminated(1, finished=5))],
                conditions=[cond("Ready", "False", at_=8)],
            )
        ],
        now=9,
        next_retry=18,
    ),
    Case(
        "s3_1_delay_doubles_per_failure",
        job(status={"active": 0}),
        [failed_pod("a", finished=5), failed_pod("b", finished=20), failed_pod("c", finished=50)],
        now=51,
        next_retry=90,
    ),
    Case(
        "s3_1_delay_is_capped_at_10_minutes_not_6",
        job(status={"failed": 9, "active": 0}, backoff_limit=20),
        [failed_pod("a", finished=100, tracked=False)],
        now=101,
        next_retry=700,
    ),
    Case(
        "s3_1_a_success_resets_the_backoff",
        job(status={"active": 0}, spec={"completions": 3}),
        [failed_pod("a", finished=1), ok_pod("b", finished=5), failed_pod("c", finished=10)],
        now=11,
        next_retry=20,
    ),
    Case(
        "s3_1_ignored_failures_still_lengthen_the_backoff",
        job(status={"active": 0}, spec=pfp(on_exit("Ignore", "In", [42]))),
        [failed_pod("a", code=42, finished=2), failed_pod("b", code=42, finished=8)],
        now=9,
        next_retry=28,
        attempts=(0, 6, 6),
    ),
    # §4 stalls
    Case(
        "s4_image_pull_backoff_stalls_and_never_counts",
        job(backoff_limit=0),
        [
            pod(
                "a",
                phase="Pending",
                containers=[ctr(state=waiting("ImagePullBackOff"))],
                conditions=[cond("ContainersReady", "False", "ContainersNotReady", at_=2)],
            )
        ],
        now=3600,
        state="stalled",
        reason="image_pull",
        stall=("image_pull", 2),
        attempts=(0, 0, 0),
    ),
    Case(
        "s4_create_container_config_error_stalls",
        job(),
        [
            pod(
                "a",
                phase="Pending",
                created=1,
                containers=[ctr(state=waiting("CreateContainerConfigError"))],
            )
        ],
        state="stalled",
        stall=("config_error", 1),
    ),
    Case(
        "s4_unschedulable_stalls",
        job(),
        [
            pod(
                "a",
                phase="Pending",
                containers=[],
                conditions=[cond("PodScheduled", "False", "Unschedulable", at_=3)],
            )
        ],
        state="stalled",
        stall=("unschedulable", 3),
    ),
    Case(
        "s4_init_container_that_never_finishes_stalls",
        job(),
        [
            pod(
                "a",
                phase="Pending",
                init=[ctr("wait-db", state=running(4))],
                containers=[ctr(state=waiting("PodInitializing"))],
                conditions=[cond("Initialized", "False", "ContainersNotInitialized", at_=1)],
            )
        ],
        state="stalled",
        stall=("init_blocked", 4),
    ),
    Case(
        "s4_active_job_without_pods_after_backoff_stalls",
        job(status={"active": 0}),
        [],
        now=3600,
        state="stalled",
        stall=("no_pods", 0),
    ),
    Case(
        "s3_1_no_pods_within_the_first_recreation_delay_is_not_yet_a_stall",
        job(status={"active": 0}),
        [],
        now=9,
        state="running",
        stall=None,
    ),
    Case(
        "s3_1_no_pods_past_the_first_recreation_delay_stalls",
        job(status={"active": 0}),
        [],
        now=10,
        state="stalled",
        stall=("no_pods", 0),
    ),
    Case(
        "s4_waiting_out_the_backoff_is_not_a_stall",
        job(status={"active": 0}),
        [failed_pod("a", finished=50)],
        now=55,
        stall=None,
        state="running",
    ),
    Case(
        "s4_one_progressing_pod_means_not_stalled",
        job(spec={"parallelism": 2}),
        [pod("a"), pod("b", phase="Pending", containers=[ctr(state=waiting("ErrImagePull"))])],
        stall=None,
        state="running",
    ),
    Case(
        "s4_crash_loop_is_not_a_stall_the_budget_catches_it",
        job(restart_policy="OnFailure"),
        [
            pod(
                "a",
                restart_policy="OnFailure",
                containers=[ctr(state=waiting("CrashLoopBackOff"), last=terminated(1), restarts=3)],
            )
        ],
        stall=None,
        state="running",
    ),
    # §5.2 last real exit code, §5.3 hidden failures
    Case(
        "s5_last_exit_is_the_latest_failure_not_the_latest_success",
        job(status={"succeeded": 1, "failed": 1, **DONE}, conditions=[cond("Complete", at_=20)]),
        [failed_pod("a", code=3, finished=4, tracked=False), ok_pod("b", finished=15)],
        last_exit=(3, "app_error"),
        hidden={"failed_pods_before_success": 1},
    ),
    Case(
        "s5_start_error_uses_finish_time_not_the_1970_start",
        job(status={"failed": 2}),
        [
            failed_pod("a", code=1, finished=3, tracked=False),
            pod(
                "b",
                phase="Failed",
                tracked=False,
                containers=[ctr(state=terminated(128, "StartError", finished=9))],
            ),
            pod("c"),
        ],
        last_exit=(128, "start_error"),
    ),
    Case(
        "s5_oom_in_last_state_of_a_crash_looping_container",
        job(restart_policy="OnFailure"),
        [
            pod(
                "a",
                restart_policy="OnFailure",
                containers=[
                    ctr(
                        state=waiting("CrashLoopBackOff"),
                        last=terminated(137, "OOMKilled"),
                        restarts=1,
                    )
                ],
            )
        ],
        last_exit=(137, "oom_killed"),
    ),
    Case("s5_no_termination_yet_means_no_last_exit", job(), [pod("a")], last_exit=None),
    Case(
        "s5_restarts_before_success_are_hidden",
        job(
            restart_policy="OnFailure",
            status={"succeeded": 1, **DONE},
            conditions=[cond("Complete", reason="CompletionsReached", at_=50)],
        ),
        [
            pod(
                "a",
                phase="Succeeded",
                restart_policy="OnFailure",
                containers=[
                    ctr(
                        state=terminated(0, finished=40),
                        last=terminated(137, "OOMKilled", finished=20),
                        restarts=2,
                    )
                ],
            )
        ],
        state="succeeded",
        hidden={"restarts_before_success": 2},
        last_exit=(137, "oom_killed"),
    ),
    Case(
        "s5_sidecar_failures_in_a_succeeded_pod_are_hidden",
        job(status={"succeeded": 1, **DONE}, conditions=[cond("Complete", at_=50)]),
        [
            pod(
                "a",
                phase="Succeeded",
                sidecars=[
                    ctr(
                        "proxy",
                        state=terminated(143, finished=45),
                        last=terminated(1, finished=20),
                        restarts=1,
                    )
                ],
                containers=[ctr(state=terminated(0, finished=44))],
            )
        ],
        hidden={"sidecar_failures": 1},
        last_exit=(1, "app_error"),
    ),
    Case(
        "s5_failed_two_container_pod_shows_its_error_so_nothing_is_hidden",
        job(backoff_limit=0, status={"failed": 1, **DONE}, conditions=FAILED_BLE),
        [
            pod(
                "a",
                phase="Failed",
                tracked=False,
                containers=[
                    ctr("app", state=terminated(0, finished=4)),
                    ctr("worker", state=terminated(1, finished=5)),
                ],
            )
        ],
        state="failed",
        hidden={},
        last_exit=(1, "app_error"),
    ),
    Case(
        "s5_failed_pod_that_kubectl_shows_completed",
        job(backoff_limit=0, status={"failed": 1, **DONE}, conditions=FAILED_BLE),
        [
            pod(
                "a",
                phase="Failed",
                tracked=False,
                containers=[
                    ctr("app", state=terminated(0, finished=4)),
                    ctr("worker", state=waiting("ContainerCreating")),
                ],
            )
        ],
        state="failed",
        hidden={"failed_pod_displayed_completed": 1},
    ),
    Case(
        "s5_healthy_job_hides_nothing",
        job(
            status={"succeeded": 1, **DONE},
            conditions=[cond("Complete", reason="CompletionsReached")],
        ),
        [ok_pod("a")],
        state="succeeded",
        hidden={},
        last_exit=(0, "success"),
        stall=None,
    ),
]


def _check(case: Case) -> None:
    j = parse_job(case.job)
    pods = [parse_pod(p) for p in case.pods]
    r = analyse(j, pods, T0_EPOCH + case.now)
    if case.state is not UNSET:
        assert r.state.value == case.state
    if case.reason is not UNSET:
        assert r.reason == case.reason
    if case.attempts is not UNSET:
        got = (
            None
            if r.attempts is None
            else (r.attempts.used, r.attempts.limit, r.attempts.remaining)
        )
        assert got == case.attempts
    if case.last_exit is not UNSET:
        got_exit = None if r.last_exit is None else (r.last_exit.code, r.last_exit.cause.value)
        assert got_exit == case.last_exit
    if case.hidden is not UNSET:
        assert {h.kind.value: h.count for h in r.hidden_failures} == case.hidden
    if case.stall is not UNSET:
        got_stall = (
            None if r.stall is None else (r.stall.reason.value, (r.stall.since or 0) - T0_EPOCH)
        )
        assert got_stall == case.stall
    if case.next_retry is not UNSET:
        got_retry = None if r.next_retry_at is None else r.next_retry_at - T0_EPOCH
        assert got_retry == case.next_retry
    if case.deadline is not UNSET:
        got_deadline = None if r.deadline_at is None else r.deadline_at - T0_EPOCH
        assert got_deadline == case.deadline
    if case.failed_indexes is not UNSET:
        assert r.failed_indexes == case.failed_indexes


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    _check(case)


def test_case_ids_are_unique_and_cite_a_section() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert all(i.split("_")[0] in {"s1", "s3", "s4", "s5"} for i in ids)
    assert len(CASES) >= 40
