"""What the analysis says about one Job: the `JobReport` and its parts."""

from __future__ import annotations

from dataclasses import dataclass

from jobwatch.vocabulary import Cause, HiddenFailure, StallReason, State


@dataclass(frozen=True, slots=True)
class Attempts:
    """Failures counted against the limit, exactly as the Job controller counts them."""

    used: int
    limit: int
    remaining: int


@dataclass(frozen=True, slots=True)
class ExitInfo:
    """One container termination and what it means."""

    pod: str
    container: str
    code: int
    reason: str
    cause: Cause
    meaning: str
    finished_at: float | None
    # From lastState: the container ran again since, so its logs need `kubectl logs --previous`.
    previous: bool = False
    # SIGTERM/SIGKILL after the pod was marked for deletion: the kill that deleting it sent
    # (the Job controller removing a failed Job's pods), a consequence, not what went wrong.
    by_deletion: bool = False


@dataclass(frozen=True, slots=True)
class ContainerFailure:
    """A failed container termination seen in a pod; its identity lets counters count it once."""

    pod_uid: str
    container: str
    restart: int  # which run of the container: lastState is run restart-1, state is run restart
    cause: Cause
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class HiddenCount:
    kind: HiddenFailure
    count: int


@dataclass(frozen=True, slots=True)
class Stall:
    reason: StallReason
    since: float | None


@dataclass(frozen=True, slots=True)
class JobReport:
    namespace: str
    name: str
    uid: str
    cronjob: str
    restart_policy: str
    completion_mode: str
    state: State
    reason: str
    attempts: Attempts | None  # None for externally managed Jobs
    failed_indexes: int | None  # per-index Jobs only
    max_failed_indexes: int | None
    last_exit: ExitInfo | None
    failures: tuple[ContainerFailure, ...]
    hidden_failures: tuple[HiddenCount, ...]
    stall: Stall | None
    next_retry_at: float | None
    deadline_at: float | None
    start_at: float | None
    finish_at: float | None
    container_restarts: int
    advice: str


@dataclass(frozen=True, slots=True)
class CronJobStatus:
    """What the per-CronJob series say, summarised from its runs by `jobwatch.state.cronjobs`."""

    namespace: str
    cronjob: str
    last_state: str
    last_reason: str
    last_success_at: float | None
    last_failure_at: float | None
    first_seen_at: float | None
    consecutive_failures: int
