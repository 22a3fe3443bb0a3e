"""Failures hidden behind a success or a "Completed" status (docs/job-semantics.md §5.3)."""

from __future__ import annotations

from jobwatch.analysis.budget import counted_failures
from jobwatch.analysis.exits import SIDECAR_STOP_CODES
from jobwatch.analysis.failures import is_ignored
from jobwatch.analysis.indexes import parse_index_set
from jobwatch.analysis.kubectl import kubectl_status
from jobwatch.analysis.report import HiddenCount
from jobwatch.model import Job, Pod
from jobwatch.vocabulary import HiddenFailure


def hidden_failures(job: Job, pods: list[Pod], *, succeeded: bool) -> tuple[HiddenCount, ...]:
    if not pods and not succeeded:
        return ()  # every count below is over pods
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
