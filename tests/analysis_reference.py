"""The analysis and the Job renderer as they were before issue 12 made them fast, for tests only.

`tests/test_analysis_fast.py` holds the package to these on generated Jobs and pods: each rule
scanning every pod, and every sample line through the generic `_Lines` path. Only the functions
that issue 12 restructured are copied here (from commit 1fc4220); the helpers they call are the
package's, unchanged by it.
"""

from __future__ import annotations

from jobwatch import metrics as m
from jobwatch import vocabulary as v
from jobwatch.analysis.backoff import _next_retry_per_index, backoff_delay, pod_finish_time
from jobwatch.analysis.budget import failed_index_count, index_failures, on_failure_restarts
from jobwatch.analysis.exits import (
    SIDECAR_STOP_CODES,
    _normal_sidecar_stop,
    _pod_hit_deadline,
    _pod_was_evicted,
    _sort_key,
    _stopped_by_deletion,
    _terminations,
    classify,
    meaning,
)
from jobwatch.analysis.failures import (
    PolicyAction,
    is_ignored,
    is_pod_failed,
    matched_policy_action,
    newly_failed_pods,
)
from jobwatch.analysis.indexes import parse_index_set
from jobwatch.analysis.job import (
    COMPLETE_WITHOUT_REASON,
    FAILED_CONDITIONS,
    SUCCEEDED_CONDITIONS,
    advice,
    deadline_at,
    finish_time,
)
from jobwatch.analysis.kubectl import kubectl_status
from jobwatch.analysis.report import (
    Attempts,
    ContainerFailure,
    ExitInfo,
    HiddenCount,
    JobReport,
    Stall,
)
from jobwatch.analysis.stalls import (
    CONFIG_REASONS,
    IMAGE_PULL_REASONS,
    NO_PODS_GRACE,
    _init_blocked,
    _not_ready_since,
)
from jobwatch.exposition import Fragments, _Lines
from jobwatch.model import Job, Pod
from jobwatch.vocabulary import Cause, HiddenFailure, StallReason, State

# --- job ----------------------------------------------------------------------


def job_state(job: Job) -> tuple[State, str]:
    """State and reason from spec and conditions alone (§1.14 to §1.16)."""
    if job.externally_managed:
        return State.EXTERNAL, ""
    for type_ in FAILED_CONDITIONS:
        if (c := job.true_condition(type_)) is not None:
            return State.FAILED, c.reason
    for type_ in SUCCEEDED_CONDITIONS:
        if (c := job.true_condition(type_)) is not None:
            return State.SUCCEEDED, c.reason or COMPLETE_WITHOUT_REASON
    if job.suspend:
        suspended = job.true_condition("Suspended")
        return State.SUSPENDED, suspended.reason if suspended else "JobSuspended"
    return State.RUNNING, ""


def analyse(job: Job, pods: list[Pod], now: float) -> JobReport:
    """Everything jobwatch knows about one Job at `now`. Pure: no clock, no I/O."""
    state, reason = job_state(job)
    exits = container_exits(pods, job_deadline_exceeded=reason == "DeadlineExceeded")
    failures = tuple(f for _, f in exits if f is not None)
    budget = None if state is State.EXTERNAL else attempts(job, pods, failed=state is State.FAILED)
    retry = None
    stall = None
    if state is State.RUNNING:
        retry = next_retry_at(job, pods)
        stall = job_stall(job, pods, now, retry)
        if stall is not None:
            state, reason = State.STALLED, stall.reason.value
    hidden = hidden_failures(job, pods, succeeded=state is State.SUCCEEDED)
    last = last_exit(exits)
    deadline = deadline_at(job)
    return JobReport(
        namespace=job.namespace,
        name=job.name,
        uid=job.uid,
        cronjob=job.cronjob,
        restart_policy=job.restart_policy,
        completion_mode=job.completion_mode,
        state=state,
        reason=reason,
        attempts=budget,
        failed_indexes=failed_index_count(job),
        max_failed_indexes=job.max_failed_indexes,
        last_exit=last,
        failures=failures,
        hidden_failures=hidden,
        stall=stall,
        next_retry_at=retry,
        deadline_at=deadline,
        start_at=job.start_time,
        finish_at=finish_time(job, state),
        container_restarts=sum(c.restart_count for p in pods for c in p.containers),
        advice=advice(
            state,
            reason,
            namespace=job.namespace,
            attempts_=budget,
            exit_=last,
            stall=stall,
            hidden=hidden,
        ),
    )


# --- budget -------------------------------------------------------------------


def counted_failures(job: Job, pods: list[Pod]) -> int:
    """`jobCtx.failed` (§1.2, §1.7): status.failed + uncounted + newly failed tracked pods."""
    return job.failed + len(job.uncounted_failed) + len(newly_failed_pods(job, pods))


def attempts(job: Job, pods: list[Pod], *, failed: bool) -> Attempts:
    """The binding budget. `syncJob` checks the global backoffLimit for every Job, per-index ones
    included (it only defaults to MaxInt32 there), so a per-index Job reports whichever of the
    global and the per-index budget runs out first (§1.10). They are compared before clamping
    at 0, so a Job the global limit failed reports the global budget."""
    chosen = _global_attempts(job, pods)
    if job.backoff_limit_per_index is not None:
        per_index = _per_index_attempts(job, pods)
        if per_index.remaining <= chosen.remaining:
            chosen = per_index
    remaining = 0 if failed else max(0, chosen.remaining)
    return Attempts(used=chosen.used, limit=chosen.limit, remaining=remaining)


def _global_attempts(job: Job, pods: list[Pod]) -> Attempts:
    """backoffLimit and, for OnFailure, the restart sum; `remaining` may be negative."""
    used_pods = counted_failures(job, pods)
    limit = job.backoff_limit
    if job.restart_policy == "OnFailure":
        restarts = on_failure_restarts(pods)
        remaining = min(limit - used_pods, max(limit, 1) - 1 - restarts)
        used = used_pods + restarts
    else:
        remaining = limit - used_pods
        used = used_pods
    return Attempts(used=used, limit=limit, remaining=remaining)


def _per_index_attempts(job: Job, pods: list[Pod]) -> Attempts:
    """The open index closest to failing; `remaining` may be negative, 0 with no open index."""
    limit = job.backoff_limit_per_index or 0
    per_index = index_failures(job, pods)
    closed = parse_index_set(job.failed_indexes) | parse_index_set(job.completed_indexes)
    closed |= {  # a FailIndex match fails its index at once (§1.9)
        p.completion_index
        for p in pods
        if p.completion_index is not None
        and (match := matched_policy_action(job, p)) is not None
        and match[0] is PolicyAction.FAIL_INDEX
    }
    total = max(job.completions or 0, 0)
    open_failures = [f for i, f in per_index.items() if 0 <= i < total and i not in closed]
    open_count = total - closed.count_in(0, total)
    if open_count > len(open_failures):
        open_failures.append(0)  # an open index no pod has failed on yet
    used = max(open_failures, default=0)
    return Attempts(used=used, limit=limit, remaining=limit - used if open_failures else 0)


# --- backoff ------------------------------------------------------------------


def next_retry_at(job: Job, pods: list[Pod]) -> float | None:
    if job.backoff_limit_per_index is not None:
        return _next_retry_per_index(job, pods)
    successes = [pod_finish_time(p) or 0.0 for p in pods if p.phase == "Succeeded"]
    last_success = max(successes, default=None)
    failed_at = [
        t
        for p in pods
        if is_pod_failed(job, p)
        and (t := pod_finish_time(p)) is not None
        and (last_success is None or t > last_success)
    ]
    count = len(failed_at)
    if last_success is None and job.succeeded == 0:
        # Pods may be gone (PodGC, TTL) while the count survives in status.
        count = max(count, job.failed + len(job.uncounted_failed))
    if count == 0 or not failed_at:
        return None
    return max(failed_at) + backoff_delay(count)


# --- stalls -------------------------------------------------------------------


def pod_stall(pod: Pod) -> Stall | None:
    """Why this live pod cannot make progress, if it cannot."""
    scheduled = pod.condition("PodScheduled")
    if (
        scheduled is not None
        and scheduled.status == "False"
        and scheduled.reason == "Unschedulable"
    ):
        return Stall(StallReason.UNSCHEDULABLE, scheduled.transition_at or pod.created_at)
    for c in pod.containers:
        if c.waiting_reason in IMAGE_PULL_REASONS:
            return Stall(StallReason.IMAGE_PULL, _not_ready_since(pod))
        if c.waiting_reason in CONFIG_REASONS:
            return Stall(StallReason.CONFIG_ERROR, _not_ready_since(pod))
    if pod.phase == "Pending":
        return _init_blocked(pod)
    if pod.phase == "Running":
        return _sidecar_never_exits(pod)
    return None


def _sidecar_never_exits(pod: Pod) -> Stall | None:
    """Regular containers have finished for good, yet the pod keeps running: a legacy sidecar (a
    regular container that never exits) or a native sidecar that will not stop (§1.5)."""
    regular = [c for c in pod.containers if c.kind == "regular"]
    final = [
        c.terminated
        for c in regular
        if c.terminated is not None
        and (pod.restart_policy != "OnFailure" or c.terminated.exit_code == 0)
    ]
    if not final or any(c.waiting_reason for c in regular):
        return None
    if not all(c.terminated is not None or c.running_since is not None for c in regular):
        return None
    return Stall(
        StallReason.SIDECAR_NEVER_EXITS, max((t.finished_at or 0.0) for t in final) or None
    )


def job_stall(job: Job, pods: list[Pod], now: float, next_retry: float | None) -> Stall | None:
    """The Job is stalled when every live pod is blocked, or when it is active with no pods at
    all once any pod-recreation backoff has passed. Callers exclude finished, suspended and
    externally managed Jobs."""
    live = [p for p in pods if not p.is_terminal]
    if any(p.deleting_at is not None for p in live):
        return None  # pods are going away; the controller acts next
    if live:
        stalls = [pod_stall(p) for p in live]
        blocking = [s for s in stalls if s is not None]
        if len(blocking) < len(stalls):
            return None
        return max(blocking, key=lambda s: s.since or 0.0)
    if job.active > 0 or (next_retry is not None and now < next_retry):
        return None
    finishes = [
        t for p in pods for c in p.containers if c.terminated and (t := c.terminated.finished_at)
    ]
    since_candidates = [job.start_time, job.created_at, next_retry, *finishes]
    since = max((t for t in since_candidates if t is not None), default=None)
    if since is not None and now - since < NO_PODS_GRACE:
        return None
    return Stall(StallReason.NO_PODS, since)


# --- hidden -------------------------------------------------------------------


def hidden_failures(job: Job, pods: list[Pod], *, succeeded: bool) -> tuple[HiddenCount, ...]:
    counts: dict[HiddenFailure, int] = {}
    if succeeded:
        # Case 2: Complete with status.failed > 0 (retry-then-success).
        counts[HiddenFailure.FAILED_PODS_BEFORE_SUCCESS] = counted_failures(job, pods)
        # Case 7: a success policy met while failedIndexes is non-empty (§1.12).
        counts[HiddenFailure.FAILED_INDEXES_DESPITE_SUCCESS] = len(
            parse_index_set(job.failed_indexes)
        )
    succeeded_pods = {p.uid for p in pods if p.phase == "Succeeded"}
    for pod in pods:
        if pod.uid not in succeeded_pods:
            continue
        # Cases 1, 4, 11: restarts (OnFailure, init retries, restartPolicyRules) before success.
        counts[HiddenFailure.RESTARTS_BEFORE_SUCCESS] = counts.get(
            HiddenFailure.RESTARTS_BEFORE_SUCCESS, 0
        ) + sum(c.restart_count for c in pod.containers if c.kind != "sidecar")
    # Case 5: sidecar crashes in a pod that still succeeded (§1.5): every restart of a sidecar
    # is a crash, plus a final exit other than 0 or the SIGTERM/SIGKILL stop at pod end.
    counts[HiddenFailure.SIDECAR_FAILURES] = sum(
        c.restart_count
        + (c.terminated is not None and c.terminated.exit_code not in (0, *SIDECAR_STOP_CODES))
        for p in pods
        if p.uid in succeeded_pods
        for c in p.containers
        if c.kind == "sidecar"
    )
    # Case 6: failures a podFailurePolicy Ignore rule kept out of status.failed (§1.9).
    counts[HiddenFailure.IGNORED_BY_POD_FAILURE_POLICY] = sum(1 for p in pods if is_ignored(job, p))
    # Case 3: a Failed multi-container pod that kubectl shows as Completed.
    counts[HiddenFailure.FAILED_POD_DISPLAYED_COMPLETED] = sum(
        1 for p in pods if p.phase == "Failed" and kubectl_status(p) == "Completed"
    )
    return tuple(HiddenCount(kind, n) for kind, n in counts.items() if n > 0)


# --- exits --------------------------------------------------------------------


def container_exits(
    pods: list[Pod], *, job_deadline_exceeded: bool = False
) -> list[tuple[ExitInfo, ContainerFailure | None]]:
    """Every termination visible in the pods, each with its countable identity if it failed."""
    out: list[tuple[ExitInfo, ContainerFailure | None]] = []
    for pod in pods:
        evicted = _pod_was_evicted(pod)
        deadline = _pod_hit_deadline(pod, job_deadline_exceeded)
        for c in pod.containers:
            for term, run, previous in _terminations(c):
                cause = classify(term.exit_code, term.reason, evicted=evicted, deadline=deadline)
                info = ExitInfo(
                    pod=pod.name,
                    container=c.name,
                    code=term.exit_code,
                    reason=term.reason,
                    cause=cause,
                    meaning=meaning(term.exit_code, cause),
                    finished_at=term.finished_at,
                    previous=previous,
                    by_deletion=_stopped_by_deletion(pod, term, previous),
                )
                failed = cause is not Cause.SUCCESS and not _normal_sidecar_stop(c, pod, term)
                failure = ContainerFailure(pod.uid, c.name, run, cause, term.finished_at)
                out.append((info, failure if failed else None))
    return out


def last_exit(exits: list[tuple[ExitInfo, ContainerFailure | None]]) -> ExitInfo | None:
    """The most recent failed termination; without one, the most recent exit 0. A kill sent by
    deleting the pod yields to any other failure: when the Job controller deletes a crash-looping
    pod, the crash (exit 1 in lastState) explains the Job, not the SIGTERM that ended it."""
    failed = [info for info, failure in exits if failure is not None]
    real = [info for info in failed if not info.by_deletion]
    succeeded = [info for info, _ in exits if info.code == 0]
    return max(real or failed or succeeded, key=_sort_key, default=None)


# --- exposition ---------------------------------------------------------------


def render_job(report: JobReport) -> Fragments:
    """All per-Job series of one Job. No (name, labels) pair twice."""
    out = _Lines((report.namespace, report.name, report.cronjob), m.JOB_LABELS)
    policy = v.bounded(report.restart_policy, v.RESTART_POLICIES)
    out.add(m.JOB_INFO, 1, policy, v.bounded(report.completion_mode, v.COMPLETION_MODES))
    out.add(m.JOB_STATE, 1, report.state.value, v.bounded(report.reason, v.JOB_REASONS))
    if (a := report.attempts) is not None:
        out.add(m.JOB_ATTEMPTS_USED, a.used)
        out.add(m.JOB_ATTEMPTS_LIMIT, a.limit)
        out.add(m.JOB_ATTEMPTS_REMAINING, a.remaining)
    if report.failed_indexes is not None:
        out.add(m.JOB_FAILED_INDEXES, report.failed_indexes)
    if report.max_failed_indexes is not None:
        out.add(m.JOB_MAX_FAILED_INDEXES, report.max_failed_indexes)
    if (e := report.last_exit) is not None:
        reason = v.bounded(e.reason or "", v.EXIT_REASONS)
        out.add(m.JOB_LAST_EXIT_CODE, e.code, e.container, reason, e.cause.value)
        if e.finished_at is not None:
            out.add(m.JOB_LAST_EXIT_TIMESTAMP, e.finished_at, e.cause.value)
    latest: dict[str, float] = {}
    for f in report.failures:
        if f.finished_at is not None:
            latest[f.cause.value] = max(latest.get(f.cause.value, f.finished_at), f.finished_at)
    for cause in sorted(latest):
        out.add(m.JOB_LAST_FAILURE_TIMESTAMP, latest[cause], cause)
    hidden: dict[str, int] = {}
    for h in report.hidden_failures:
        hidden[h.kind.value] = hidden.get(h.kind.value, 0) + h.count
    for kind in sorted(hidden):
        out.add(m.JOB_HIDDEN_FAILURES, hidden[kind], kind)
    if (s := report.stall) is not None:
        since = s.since if s.since is not None else report.start_at
        if since is not None:
            out.add(m.JOB_STALLED_SINCE, since, s.reason.value)
    for metric, at in (
        (m.JOB_NEXT_RETRY, report.next_retry_at),
        (m.JOB_DEADLINE, report.deadline_at),
        (m.JOB_START, report.start_at),
        (m.JOB_FINISH, report.finish_at),
    ):
        if at is not None:
            out.add(metric, at)
    out.add(m.JOB_CONTAINER_RESTARTS, report.container_restarts)
    return out.fragments()
