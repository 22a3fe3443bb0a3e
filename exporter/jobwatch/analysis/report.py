"""What the analysis says about one Job: the `JobReport` and its parts.

They are built for every changed Job (issue 12), so they are plain slotted dataclasses, hashable
as frozen ones are, but not `frozen`: a frozen dataclass sets each field through
`object.__setattr__`, which made building a report cost about as much as rendering it. They are
immutable by convention: nothing assigns to one; a changed report is a new one
(`dataclasses.replace`). `CronJobStatus`, built once per CronJob change, stays frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobwatch.vocabulary import Cause, HiddenFailure, StallReason, State


@dataclass(slots=True, unsafe_hash=True)
class Attempts:
    """Failures counted against the limit, exactly as the Job controller counts them."""

    used: int
    limit: int
    remaining: int


@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class ContainerFailure:
    """A failed container termination seen in a pod; its identity lets counters count it once."""

    pod_uid: str
    container: str
    restart: int  # which run of the container: lastState is run restart-1, state is run restart
    cause: Cause
    finished_at: float | None


@dataclass(slots=True, unsafe_hash=True)
class HiddenCount:
    kind: HiddenFailure
    count: int


@dataclass(slots=True, unsafe_hash=True)
class Stall:
    reason: StallReason
    since: float | None


@dataclass(slots=True, unsafe_hash=True)  # eq is below; the dataclass writes the hash
class JobReport:  # noqa: PLW1641
    """Everything `analyse` says about one Job."""

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

    def __eq__(self, other: object) -> bool:
        """The dataclass equality (every field equal, an identical one too, as tuples compare),
        with the fields that change while a Job runs compared first and no tuples built: the
        renderer asks this of every changed Job's new report, and most differ early."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, JobReport)
        return (
            self.container_restarts == other.container_restarts
            and self.attempts == other.attempts
            and self.state == other.state
            and self.reason == other.reason
            and self.last_exit == other.last_exit
            and self.failures == other.failures
            and self.stall == other.stall
            and _same(self.next_retry_at, other.next_retry_at)
            and self.hidden_failures == other.hidden_failures
            and _same(self.finish_at, other.finish_at)
            and self.advice == other.advice
            and _same(self.start_at, other.start_at)
            and _same(self.deadline_at, other.deadline_at)
            and self.failed_indexes == other.failed_indexes
            and self.max_failed_indexes == other.max_failed_indexes
            and self.uid == other.uid
            and self.namespace == other.namespace
            and self.name == other.name
            and self.cronjob == other.cronjob
            and self.restart_policy == other.restart_policy
            and self.completion_mode == other.completion_mode
        )


def _same(mine: float | None, theirs: float | None) -> bool:
    """Equal as a tuple element is: the same object (a NaN too) or `==`."""
    return mine is theirs or mine == theirs


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
