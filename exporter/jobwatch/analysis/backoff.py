"""The Job controller's pod-recreation backoff (docs/job-semantics.md §3.1; backoff_utils.go at v1.37.2).

10 s, doubling, capped at 10 minutes (not six: `MaxJobPodFailureBackOff`), counted from the
finish time of the last failed pod, and reset only by a pod success. Ignored failures still
lengthen it. The controller keeps the record in memory, so after a kube-controller-manager
restart the real delay may be shorter: this is the upper bound the objects allow.
"""

from __future__ import annotations

from jobwatch.analysis.failures import (
    PolicyAction,
    is_counted_failure,
    is_pod_failed,
    matched_policy_action,
)
from jobwatch.analysis.indexes import parse_index_set
from jobwatch.model import ContainerStatus, Job, Pod

INITIAL_DELAY = 10.0  # DefaultJobPodFailureBackOff
MAX_DELAY = 600.0  # MaxJobPodFailureBackOff


def backoff_delay(failures: int) -> float:
    """Delay before the next pod after `failures` consecutive failures: 0, 10, 20, … 600."""
    if failures <= 0:
        return 0.0
    delay = INITIAL_DELAY
    for _ in range(failures - 1):
        delay *= 2
        if delay >= MAX_DELAY:
            return MAX_DELAY
    return delay


def _latest_finish(previous: float | None, containers: list[ContainerStatus]) -> float | None:
    """`latestFinishTime`: the latest finishedAt, or None as soon as one container has not
    terminated (or has no finishedAt), whatever came before."""
    latest = previous
    for c in containers:
        if c.terminated is None or c.terminated.finished_at is None:
            return None
        if latest is None or c.terminated.finished_at > latest:
            latest = c.terminated.finished_at
    return latest


def _finish_from_containers(pod: Pod) -> float | None:
    """`getFinishTimeFromContainers`: regular containers, then native sidecars on top; plain init
    containers never count. A still-running regular container voids the regular result, but the
    sidecars are then read alone; a still-running sidecar voids it all."""
    regular = [c for c in pod.containers if c.kind == "regular"]
    sidecars = [c for c in pod.containers if c.kind == "sidecar"]
    return _latest_finish(_latest_finish(None, regular), sidecars)


def pod_finish_time(pod: Pod) -> float | None:
    """`getFinishedTime`: the containers' finish time when every regular and sidecar container has
    terminated, else the Ready=False transition, else deletionTimestamp - grace period, else
    creationTimestamp."""
    finished = _finish_from_containers(pod)
    if finished is not None:
        return finished
    ready = pod.condition("Ready")
    if ready is not None and ready.status == "False" and ready.transition_at is not None:
        return ready.transition_at
    if pod.deleting_at is not None:
        return pod.deleting_at - (pod.deletion_grace_seconds or 0)
    return pod.created_at


def next_retry_at(job: Job, pods: list[Pod]) -> float | None:
    """When the controller may create the next pod. Only failed (`is_pod_failed`) and Succeeded
    pods matter to a Job without backoffLimitPerIndex; without any pod there is no record."""
    if not pods:
        return None
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


def _index_fails_now(job: Job, pod: Pod) -> bool:
    """`isIndexFailed`: a FailIndex match, or a counted failure at the per-index limit."""
    match = matched_policy_action(job, pod)
    if match is not None and match[0] is PolicyAction.FAIL_INDEX:
        return True
    limit = job.backoff_limit_per_index
    return limit is not None and is_counted_failure(job, pod) and pod.index_failure_count >= limit


def _next_retry_per_index(job: Job, pods: list[Pod]) -> float | None:
    """`getPodsWithDelayedDeletionPerIndex` and `getRemainingTimePerIndex`: per open index that
    has no active pod, its last failed pod still holding the tracking finalizer (most failures,
    then latest finish) waits 10 s doubling over failure-count + ignored-failure-count + 1; the
    Job retries after the smallest remaining delay."""
    closed = parse_index_set(job.failed_indexes) | parse_index_set(job.completed_indexes)
    total = job.completions if job.completions is not None else 0
    last_failed: dict[int, tuple[int, float, Pod]] = {}
    busy: set[int] = set()
    for pod in pods:
        index = pod.completion_index
        if index is None or index in closed or not 0 <= index < total:
            continue
        if not pod.is_terminal and pod.deleting_at is None:
            busy.add(index)
        elif pod.phase == "Succeeded":
            closed |= {index}
        elif pod.tracked and is_pod_failed(job, pod) and (t := pod_finish_time(pod)) is not None:
            if _index_fails_now(job, pod):
                closed |= {index}
                continue
            key = (pod.index_failure_count + pod.index_ignored_failure_count, t, pod)
            if index not in last_failed or key[:2] >= last_failed[index][:2]:
                last_failed[index] = key
    retries = [
        t + backoff_delay(failures + 1)
        for index, (failures, t, _) in last_failed.items()
        if index not in busy and index not in closed
    ]
    return min(retries, default=None)
