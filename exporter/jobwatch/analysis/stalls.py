"""Jobs that can wait forever because nothing that blocks them counts as a failure (docs/job-semantics.md §4).

A stall is reported as soon as the blocking condition is seen, with the time it began; how long
is too long is the alert rules' business, not ours.
"""

from __future__ import annotations

from jobwatch.analysis.report import Stall
from jobwatch.model import Job, Pod
from jobwatch.vocabulary import StallReason

# pkg/kubelet/images/types.go; none of them ever fails the pod (§4).
IMAGE_PULL_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "SignatureValidationFailed",
        "ImageInspectError",
    }
)
# A Job with no pods is only stalled once the controller had time to act: its first
# pod-recreation delay is 10 s (§3.1). Pods deleted by hand leave no trace of when they went, so
# without this grace every deletion would flash a no_pods stall until the replacement appears.
NO_PODS_GRACE = 10.0

# kuberuntime_container.go ErrCreateContainerConfig / ErrCreateContainer: the pod stays Pending.
CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})


def _not_ready_since(pod: Pod) -> float | None:
    for type_ in ("ContainersReady", "Ready"):
        condition = pod.condition(type_)
        if condition is not None and condition.status == "False" and condition.transition_at:
            return condition.transition_at
    return pod.created_at


def pod_stall(pod: Pod) -> Stall | None:
    """Why this live pod cannot make progress, if it cannot."""
    for scheduled in pod.conditions:  # the first PodScheduled condition (`Pod.condition`)
        if scheduled.type == "PodScheduled":
            if scheduled.status == "False" and scheduled.reason == "Unschedulable":
                return Stall(StallReason.UNSCHEDULABLE, scheduled.transition_at or pod.created_at)
            break
    for c in pod.containers:
        if not c.waiting_reason:
            continue
        if c.waiting_reason in IMAGE_PULL_REASONS:
            return Stall(StallReason.IMAGE_PULL, _not_ready_since(pod))
        if c.waiting_reason in CONFIG_REASONS:
            return Stall(StallReason.CONFIG_ERROR, _not_ready_since(pod))
    if pod.phase == "Pending":
        return _init_blocked(pod)
    if pod.phase == "Running":
        return _sidecar_never_exits(pod)
    return None


def _init_blocked(pod: Pod) -> Stall | None:
    """An init container that runs and never finishes holds the pod in Pending (§1.4, §4)."""
    for c in pod.containers:
        if c.kind != "init" or (c.terminated is not None and c.terminated.exit_code == 0):
            continue
        if c.running_since is not None:
            initialized = pod.condition("Initialized")
            since = initialized.transition_at if initialized is not None else None
            return Stall(StallReason.INIT_BLOCKED, max(c.running_since, since or 0.0))
        return None
    return None


def _sidecar_never_exits(pod: Pod) -> Stall | None:
    """Regular containers have finished for good, yet the pod keeps running: a legacy sidecar (a
    regular container that never exits) or a native sidecar that will not stop (§1.5)."""
    final = []
    for c in pod.containers:
        if (
            c.terminated is not None
            and c.kind == "regular"
            and (pod.restart_policy != "OnFailure" or c.terminated.exit_code == 0)
        ):
            final.append(c.terminated)
    if not final:
        return None
    regular = [c for c in pod.containers if c.kind == "regular"]
    if any(c.waiting_reason for c in regular):
        return None
    if not all(c.terminated is not None or c.running_since is not None for c in regular):
        return None
    return Stall(
        StallReason.SIDECAR_NEVER_EXITS, max((t.finished_at or 0.0) for t in final) or None
    )


def job_stall(
    job: Job,
    pods: list[Pod],
    now: float,
    next_retry: float | None,
    *,
    live: list[Pod] | None = None,
) -> Stall | None:
    """The Job is stalled when every live pod is blocked, or when it is active with no pods at
    all once any pod-recreation backoff has passed. Callers exclude finished, suspended and
    externally managed Jobs. `live`: the pods that are not terminal, if the caller has them."""
    if live is None:
        live = [p for p in pods if not p.is_terminal]
    for p in live:
        if p.deleting_at is not None:
            return None  # pods are going away; the controller acts next
    if live:
        blocking = []
        for p in live:
            if (stall := pod_stall(p)) is None:
                return None  # one pod that can make progress is enough
            blocking.append(stall)
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
