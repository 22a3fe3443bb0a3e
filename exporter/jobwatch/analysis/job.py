"""`analyse(job, pods, now) -> JobReport`: one Job's whole story, as a pure function.

§n cites docs/job-semantics.md.
"""

from __future__ import annotations

import shlex

from jobwatch.analysis.backoff import next_retry_at
from jobwatch.analysis.budget import attempts, failed_index_count, on_failure_restarts
from jobwatch.analysis.exits import container_exits, last_exit
from jobwatch.analysis.failures import only_replace_failed
from jobwatch.analysis.hidden import hidden_failures
from jobwatch.analysis.report import Attempts, ExitInfo, HiddenCount, JobReport, Stall
from jobwatch.analysis.stalls import job_stall
from jobwatch.model import Job, Pod
from jobwatch.vocabulary import CAUSE_ADVICE, STALL_ADVICE, Cause, State

FAILED_CONDITIONS = ("FailureTarget", "Failed")  # FailureTarget decides the fate first (§1.16)
SUCCEEDED_CONDITIONS = ("SuccessCriteriaMet", "Complete")
COMPLETE_WITHOUT_REASON = "Completed"  # Complete had reason "" up to v1.30 (§1.16)
NOTHING_TO_DO = "nothing to do"


def job_state(job: Job) -> tuple[State, str]:
    """State and reason from spec and conditions alone (§1.14 to §1.16)."""
    if not job.conditions and not job.suspend and not job.managed_by:
        return State.RUNNING, ""  # what the checks below find; most Jobs on a busy cluster
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


def finish_time(job: Job, state: State) -> float | None:
    if state is State.SUCCEEDED:
        for type_ in ("Complete", "SuccessCriteriaMet"):
            if (c := job.true_condition(type_)) is not None and c.transition_at is not None:
                return job.completion_time or c.transition_at
        return job.completion_time
    if state is State.FAILED:
        for type_ in ("Failed", "FailureTarget"):
            if (c := job.true_condition(type_)) is not None and c.transition_at is not None:
                return c.transition_at
    return None


def logs_command(namespace: str, exit_: ExitInfo) -> str:
    """The kubectl command that shows the output of the run that ended with `exit_`.

    `--previous` only when the container ran again since (its lastState: restartPolicy
    OnFailure); a `Never` pod is not restarted, so its failed run is the current one.
    """
    # `shlex.join` of the words; the constant ones need no quoting.
    command = (
        f"kubectl -n {shlex.quote(namespace)} logs {shlex.quote(exit_.pod)}"
        f" -c {shlex.quote(exit_.container)}"
    )
    return command + " --previous" if exit_.previous else command


def deadline_at(job: Job) -> float | None:
    """When `pastActiveDeadline` turns true: startTime + activeDeadlineSeconds (`>=`). Never while
    the Job is suspended: the check is off, and the controller clears startTime on suspend and
    sets it anew on resume, so the clock restarts (§1.13, §1.14)."""
    if job.suspend or job.start_time is None or job.active_deadline_seconds is None:
        return None
    return job.start_time + job.active_deadline_seconds


def advice(
    state: State,
    reason: str,
    *,
    namespace: str = "",
    attempts_: Attempts | None,
    exit_: ExitInfo | None,
    stall: Stall | None,
    hidden: tuple[HiddenCount, ...],
) -> str:
    """One line a human can act on, from the spec's causes and fixes."""
    if stall is not None:
        return STALL_ADVICE[stall.reason]
    if state is State.FAILED and reason == "DeadlineExceeded":
        return CAUSE_ADVICE[Cause.DEADLINE_EXCEEDED]
    if exit_ is not None and exit_.cause is not Cause.SUCCESS and state is not State.SUCCEEDED:
        text = CAUSE_ADVICE[exit_.cause]
        if exit_.cause is Cause.APP_ERROR:
            text = (
                f"read the logs ({logs_command(namespace, exit_)}); the program reported the error"
            )
        if state is State.RUNNING and attempts_ is not None and attempts_.remaining == 0:
            return "last attempt: the next failure fails the Job; " + text
        return text
    if hidden:
        kinds = ", ".join(h.kind.value for h in hidden)
        return f"succeeded, but hid failures ({kinds}): check the failed runs before trusting it"
    if state is State.EXTERNAL:
        return "managed by another controller (spec.managedBy): jobwatch does not judge its budget"
    if state is State.SUSPENDED:
        return 'suspended: resume with kubectl patch job … -p \'{"spec":{"suspend":false}}\''
    return NOTHING_TO_DO


def analyse(job: Job, pods: list[Pod], now: float) -> JobReport:
    """Everything jobwatch knows about one Job at `now`. Pure: no clock, no I/O.

    One pass over the pods first sorts out what each rule reads, so that a rule is handed only
    the pods that can change its answer (a running pod with no termination has no exit, is not
    failed and hides nothing): the rules stay as they are specified, and a Job of many quiet
    pods costs one loop instead of a scan per rule (issue 12). `tests/test_analysis_fast.py`
    holds the result to the rules applied to every pod.
    """
    state, reason = job_state(job)
    only_failed = only_replace_failed(job)
    restarts = live_restarts = 0
    exited: list[Pod] = []  # pods with a termination: the only ones with exits
    failed: list[Pod] = []  # `is_pod_failed`: the only ones that count or delay a retry
    settled: list[Pod] = []  # failed or Succeeded: what the backoff record reads
    phase_failed: list[Pod] = []  # phase Failed: what can hide a failure when none succeeded
    live: list[Pod] = []  # not terminal: what can stall the Job
    any_succeeded = False
    for pod in pods:
        containers = pod.containers
        if len(containers) == 1:  # most pods: one container, no loop
            c = containers[0]
            count = c.restart_count
            ended = c.terminated is not None or c.last_terminated is not None
        else:
            count = 0
            ended = False
            for c in containers:
                count += c.restart_count
                if c.terminated is not None or c.last_terminated is not None:
                    ended = True
        restarts += count
        if ended:
            exited.append(pod)
        phase = pod.phase
        if phase == "Failed":
            failed.append(pod)
            settled.append(pod)
            phase_failed.append(pod)
        elif phase == "Succeeded":
            settled.append(pod)
            any_succeeded = True
        else:
            live.append(pod)
            if phase in {"Running", "Pending"}:
                live_restarts += count
            if not only_failed and pod.deleting_at is not None:
                failed.append(pod)
                settled.append(pod)
    exits = (
        container_exits(exited, job_deadline_exceeded=reason == "DeadlineExceeded")
        if exited
        else []
    )
    failures = tuple(f for _, f in exits if f is not None) if exits else ()
    per_index = job.backoff_limit_per_index is not None
    budget = (
        None
        if state is State.EXTERNAL
        else attempts(
            job,
            pods,
            failed=state is State.FAILED,
            failed_pods=None if per_index else failed,
            restarts=live_restarts,
        )
    )
    retry = None
    stall = None
    if state is State.RUNNING:
        retry = next_retry_at(job, pods if per_index else settled)
        stall = job_stall(job, pods, now, retry, live=live)
        if stall is not None:
            state, reason = State.STALLED, stall.reason.value
    succeeded = state is State.SUCCEEDED
    # Without a Succeeded pod (whose uid marks pods as succeeded) only Failed ones hide anything.
    hidden = hidden_failures(
        job, pods if succeeded or any_succeeded else phase_failed, succeeded=succeeded
    )
    last = last_exit(exits) if exits else None
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
        deadline_at=deadline_at(job),
        start_at=job.start_time,
        finish_at=finish_time(job, state) if state in _FINISHED else None,
        container_restarts=restarts,
        advice=NOTHING_TO_DO  # what `advice` says of a running Job with nothing to tell
        if state is State.RUNNING and last is None and not hidden
        else advice(
            state,
            reason,
            namespace=job.namespace,
            attempts_=budget,
            exit_=last,
            stall=stall,
            hidden=hidden,
        ),
    )


_FINISHED = frozenset({State.SUCCEEDED, State.FAILED})  # the states `finish_time` reads


__all__ = ["analyse", "job_state", "logs_command", "on_failure_restarts"]
