"""Exit codes and what they mean (docs/job-semantics.md §5.2; POSIX XCU 2.8.2).

The last real exit is the most recent non-zero termination across init, sidecar and regular
containers, from `state.terminated` or `lastState.terminated`; without any, the latest exit 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from jobwatch.analysis.report import ContainerFailure, ExitInfo
from jobwatch.model import ContainerStatus, Pod, Termination
from jobwatch.vocabulary import CAUSE_MEANING, Cause

START_ERROR_REASONS = frozenset({"StartError", "ContainerCannotRun"})
SIGNAL_CAUSES = {137: Cause.SIGKILL, 139: Cause.SEGFAULT, 143: Cause.SIGTERM}
SIDECAR_STOP_CODES = (137, 143)  # SIGKILL/SIGTERM sent to native sidecars at pod end (§1.5)
EVICTION_DISRUPTIONS = frozenset({"EvictionByEvictionAPI", "TerminationByKubelet"})


def classify(code: int, reason: str, *, evicted: bool = False, deadline: bool = False) -> Cause:
    """Map one termination to a bounded cause. Order matters: the runtime's reason is more
    specific than the code (137 is OOMKilled or a plain SIGKILL; 128 is StartError)."""
    if reason == "OOMKilled":
        return Cause.OOM_KILLED
    if reason in START_ERROR_REASONS or code == 128:
        return Cause.START_ERROR
    if code == 0:
        return Cause.SUCCESS
    if reason == "ContainerStatusUnknown":
        return Cause.UNKNOWN
    if code in (137, 143) and deadline:
        return Cause.DEADLINE_EXCEEDED
    if evicted:
        return Cause.EVICTED
    if code == 126:
        return Cause.NOT_EXECUTABLE
    if code == 127:
        return Cause.COMMAND_NOT_FOUND
    if code in SIGNAL_CAUSES:
        return SIGNAL_CAUSES[code]
    if 128 < code <= 128 + 64:
        return Cause.SIGNAL
    if 0 < code <= 255:
        return Cause.APP_ERROR
    return Cause.UNKNOWN


def meaning(code: int, cause: Cause) -> str:
    return f"exit {code}: {CAUSE_MEANING[cause]}"


def _pod_was_evicted(pod: Pod) -> bool:
    if pod.reason == "Evicted":
        return True
    disruption = pod.condition("DisruptionTarget")
    return (
        disruption is not None and disruption.is_true and disruption.reason in EVICTION_DISRUPTIONS
    )


def _pod_hit_deadline(pod: Pod, job_deadline_exceeded: bool) -> bool:
    # Pod-level activeDeadlineSeconds (kubelet, §1.13), or the Job's deadline deleting its pods.
    return pod.reason == "DeadlineExceeded" or (
        job_deadline_exceeded and pod.deleting_at is not None
    )


def _terminations(c: ContainerStatus) -> Iterator[tuple[Termination, int, bool]]:
    """Each termination, which run of the container it ended, and whether it is lastState."""
    if c.last_terminated is not None:
        yield c.last_terminated, max(c.restart_count - 1, 0), True
    if c.terminated is not None:
        yield c.terminated, c.restart_count, False


def _sort_key(info: ExitInfo) -> tuple[float, str, str]:
    return (
        info.finished_at if info.finished_at is not None else float("-inf"),
        info.pod,
        info.container,
    )


def container_exits(
    pods: list[Pod], *, job_deadline_exceeded: bool = False
) -> list[tuple[ExitInfo, ContainerFailure | None]]:
    """Every termination visible in the pods, each with its countable identity if it failed:
    per container its lastState, then its state (`_terminations`)."""
    out: list[tuple[ExitInfo, ContainerFailure | None]] = []
    for pod in pods:
        context: tuple[bool, bool] | None = None  # (evicted, deadline), at the first termination
        for c in pod.containers:
            last, current = c.last_terminated, c.terminated
            if last is None and current is None:
                continue
            if context is None:
                context = (
                    _pod_was_evicted(pod),
                    _pod_hit_deadline(pod, job_deadline_exceeded),
                )
            if last is not None:
                out.append(_exit(pod, c, last, True, context))
            if current is not None:
                out.append(_exit(pod, c, current, False, context))
    return out


def _exit(
    pod: Pod,
    c: ContainerStatus,
    term: Termination,
    previous: bool,
    context: tuple[bool, bool],
) -> tuple[ExitInfo, ContainerFailure | None]:
    """One termination (`_terminations`): lastState ended run restartCount-1, state the current."""
    cause = classify(term.exit_code, term.reason, evicted=context[0], deadline=context[1])
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
    if cause is Cause.SUCCESS or _normal_sidecar_stop(c, pod, term):
        return info, None
    run = max(c.restart_count - 1, 0) if previous else c.restart_count
    return info, ContainerFailure(pod.uid, c.name, run, cause, term.finished_at)


def _stopped_by_deletion(pod: Pod, term: Termination, previous: bool) -> bool:
    """The container's current run ended by the signal that deleting the pod sent. The API
    server sets deletionTimestamp to the request's time plus the grace period, so the deletion
    began `deletionGracePeriodSeconds` before it."""
    if previous or pod.deleting_at is None or term.finished_at is None:
        return False
    requested = pod.deleting_at - (pod.deletion_grace_seconds or 0)
    return term.exit_code in SIDECAR_STOP_CODES and term.finished_at >= requested


def _normal_sidecar_stop(c: ContainerStatus, pod: Pod, term: Termination) -> bool:
    """A native sidecar stopped by SIGTERM/SIGKILL when the pod finished is not a failure (§1.5)."""
    return (
        c.kind == "sidecar"
        and pod.is_terminal
        and term is c.terminated
        and term.exit_code in SIDECAR_STOP_CODES
    )


def last_exit(exits: list[tuple[ExitInfo, ContainerFailure | None]]) -> ExitInfo | None:
    """The most recent failed termination; without one, the most recent exit 0. A kill sent by
    deleting the pod yields to any other failure: when the Job controller deletes a crash-looping
    pod, the crash (exit 1 in lastState) explains the Job, not the SIGTERM that ended it."""
    failed = [info for info, failure in exits if failure is not None]
    real = [info for info in failed if not info.by_deletion]
    succeeded = [info for info, _ in exits if info.code == 0]
    return max(real or failed or succeeded, key=_sort_key, default=None)
