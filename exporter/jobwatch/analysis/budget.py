"""Attempts used and remaining before the Job controller gives up (docs/job-semantics.md §1.2, §1.3, §1.10, §2).

The definitions are binding:
- Never: used = status.failed + uncounted failed + newly failed pods still holding the tracking
  finalizer (minus Ignored, terminating pods per podReplacementPolicy); remaining = limit - used.
- OnFailure: used = failed pods + summed restartCount of Running/Pending pods; remaining =
  max(0, min(limit - failed, max(limit, 1) - 1 - restarts)), because the controller fails the Job
  when the restart sum *reaches* the limit (`>=`), while pod failures must *exceed* it (`>`).
- backoffLimitPerIndex: remaining = min over open indexes of (limit - failures of the index), and
  never more than the global backoffLimit leaves.
- A failed Job has nothing remaining.
"""

from __future__ import annotations

from collections import defaultdict

from jobwatch.analysis.failures import (
    PolicyAction,
    is_counted_failure,
    matched_policy_action,
    newly_failed_pods,
)
from jobwatch.analysis.indexes import parse_index_set
from jobwatch.analysis.report import Attempts
from jobwatch.model import Job, Pod

Budget = tuple[int, int, int]  # used, limit, remaining (which may be negative)


def counted_failures(job: Job, pods: list[Pod]) -> int:
    """`jobCtx.failed` (§1.2, §1.7): status.failed + uncounted + newly failed tracked pods."""
    return job.failed + len(job.uncounted_failed) + len(newly_failed_pods(job, pods))


def on_failure_restarts(pods: list[Pod]) -> int:
    """`pastBackoffLimitOnFailure` sum (§1.3, §1.4): restartCount of every init, sidecar and
    regular container of Running or Pending pods; finished pods are not summed."""
    return sum(
        c.restart_count for p in pods if p.phase in ("Running", "Pending") for c in p.containers
    )


def index_failures(job: Job, pods: list[Pod]) -> dict[int, int]:
    """Counted failures per completion index (§1.10): the pod annotation carries the failures
    before it, and a counted failed pod adds its own."""
    failures: dict[int, int] = defaultdict(int)
    for pod in pods:
        if pod.completion_index is None:
            continue
        own = 1 if is_counted_failure(job, pod) else 0
        failures[pod.completion_index] = max(
            failures[pod.completion_index], pod.index_failure_count + own
        )
    return failures


def attempts(
    job: Job,
    pods: list[Pod],
    *,
    failed: bool,
    failed_pods: list[Pod] | None = None,
    restarts: int | None = None,
) -> Attempts:
    """The binding budget. `syncJob` checks the global backoffLimit for every Job, per-index ones
    included (it only defaults to MaxInt32 there), so a per-index Job reports whichever of the
    global and the per-index budget runs out first (§1.10). They are compared before clamping
    at 0, so a Job the global limit failed reports the global budget.

    A caller that has already sorted the pods may pass `failed_pods` (those `is_pod_failed`
    holds, the only ones that can count) and `restarts` (`on_failure_restarts(pods)`)."""
    # The global budget: backoffLimit and, for OnFailure, the restart sum.
    used = job.failed + len(job.uncounted_failed)
    candidates = pods if failed_pods is None else failed_pods
    if candidates:
        used += len(newly_failed_pods(job, candidates))
    limit = job.backoff_limit
    remaining = limit - used
    if job.restart_policy == "OnFailure":
        if restarts is None:
            restarts = on_failure_restarts(pods)
        remaining = min(remaining, max(limit, 1) - 1 - restarts)
        used += restarts
    if job.backoff_limit_per_index is not None:
        per_index = _per_index_attempts(job, pods)
        if per_index[2] <= remaining:
            used, limit, remaining = per_index
    return Attempts(used=used, limit=limit, remaining=0 if failed else max(0, remaining))


def _per_index_attempts(job: Job, pods: list[Pod]) -> Budget:
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
    return used, limit, limit - used if open_failures else 0


def failed_index_count(job: Job) -> int | None:
    if job.backoff_limit_per_index is None:
        return None
    return len(parse_index_set(job.failed_indexes))
