"""CronJob tracking: which CronJobs exist, and their history that outlives the Jobs (principle 5).

Each CronJob keeps its runs by Job uid. Runs of deleted Jobs are kept up to a bound; the oldest
are folded into a carried summary (latest success and failure, first seen, failure streak), so
the series stay exact however long the exporter runs. On start the history is rebuilt from the
Jobs that still exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from jobwatch.analysis.report import CronJobStatus, JobReport
from jobwatch.vocabulary import State

Key = tuple[str, str]  # (namespace, cronjob)


@dataclass(frozen=True, slots=True)
class Run:
    uid: str
    start: float | None  # status.startTime, else the Job's creation time
    state: State
    reason: str
    finish: float | None
    name: str = ""
    deleted: bool = False

    @property
    def order(self) -> tuple[bool, float, str]:
        """Not started yet: the newest. Timestamps have one-second resolution, so runs started
        in the same second fall back to the name: the CronJob controller names each run
        `<cronjob>-<scheduled time in minutes>`, which sorts in schedule order."""
        return (self.start is None, self.start or 0.0, self.name)


@dataclass(slots=True)
class _Carry:
    """What the evicted runs contributed."""

    last_success: float | None = None
    last_failure: float | None = None
    first_seen: float | None = None
    streak: int = 0


@dataclass(slots=True)
class _History:
    runs: dict[str, Run] = field(default_factory=dict)
    carry: _Carry = field(default_factory=_Carry)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _fold(carry: _Carry, run: Run) -> _Carry:
    at = run.finish if run.finish is not None else run.start
    if run.state is State.SUCCEEDED:
        carry = replace(carry, last_success=_latest(carry.last_success, at), streak=0)
    elif run.state is State.FAILED:
        carry = replace(
            carry, last_failure=_latest(carry.last_failure, at), streak=carry.streak + 1
        )
    return replace(carry, first_seen=_earliest(carry.first_seen, run.start))


def summarise(key: Key, runs: list[Run], carry: _Carry) -> CronJobStatus:
    """The CronJob's series from its runs (any order) and what evicted runs left behind."""
    ordered = sorted(runs, key=lambda r: r.order)
    total = carry
    for run in ordered:
        total = _fold(total, run)
    last = ordered[-1] if ordered else None
    return CronJobStatus(
        namespace=key[0],
        cronjob=key[1],
        last_state=last.state.value if last else "",
        last_reason=last.reason if last else "",
        last_success_at=total.last_success,
        last_failure_at=total.last_failure,
        first_seen_at=total.first_seen,
        consecutive_failures=total.streak,
    )


class CronJobHistory:
    """Runs per CronJob; keeps at most `limit` runs of deleted Jobs per CronJob."""

    def __init__(self, limit: int = 50) -> None:
        self.limit = max(limit, 1)
        self._by_key: dict[Key, _History] = {}

    def record(self, report: JobReport, created_at: float | None) -> Key | None:
        """Update the run of this Job; returns the CronJob's key when its status may change."""
        if not report.cronjob:
            return None
        key = (report.namespace, report.cronjob)
        history = self._by_key.setdefault(key, _History())
        start = report.start_at if report.start_at is not None else created_at
        run = Run(report.uid, start, report.state, report.reason, report.finish_at, report.name)
        if history.runs.get(report.uid) == run:
            return None
        history.runs[report.uid] = run
        return key

    def deleted(self, report: JobReport) -> Key | None:
        """The Job is gone: keep its run as history, evicting the oldest beyond the bound."""
        key = (report.namespace, report.cronjob)
        history = self._by_key.get(key)
        if history is None or (run := history.runs.get(report.uid)) is None:
            return None
        history.runs[report.uid] = replace(run, deleted=True)
        gone = sorted((r for r in history.runs.values() if r.deleted), key=lambda r: r.order)
        for old in gone[: max(len(gone) - self.limit, 0)]:
            history.carry = _fold(history.carry, old)
            del history.runs[old.uid]
        return key

    def drop(self, key: Key) -> bool:
        """The CronJob itself is gone: forget its runs. True when there was something to drop."""
        return self._by_key.pop(key, None) is not None

    def status(self, key: Key) -> CronJobStatus:
        history = self._by_key[key]
        return summarise(key, list(history.runs.values()), history.carry)

    def names(self) -> list[Key]:
        return list(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)


class CronJobs:
    """CronJob tracking: which CronJobs exist (when they are watched), their run history, and
    which of them changed since their series were last rendered."""

    def __init__(self, history_limit: int = 50) -> None:
        self.history = CronJobHistory(history_limit)
        self.watching = False  # set by the first CronJob LIST or event
        self._names: dict[Key, None] = {}  # CronJobs that exist, when watched
        self._dirty: set[Key] = set()

    def __len__(self) -> int:
        """CronJob objects that exist (tracked objects for the self-metrics)."""
        return len(self._names)

    def known(self) -> set[Key]:
        """Every CronJob that exists or has history."""
        return {*self._names, *self.history.names()}

    def add(self, key: Key) -> bool:
        """The CronJob exists; True when it is new."""
        if key in self._names:
            return False
        self._names[key] = None
        return True

    def remove(self, key: Key) -> None:
        """The CronJob is gone: it loses its history and its series (principle 5)."""
        self._names.pop(key, None)
        self.history.drop(key)
        self._dirty.discard(key)

    def records_runs_of(self, report: JobReport) -> bool:
        """CronJob history follows the CronJob objects when they are watched."""
        if not report.cronjob:
            return False
        return not self.watching or (report.namespace, report.cronjob) in self._names

    def record(self, report: JobReport, created_at: float | None) -> None:
        if (key := self.history.record(report, created_at)) is not None:
            self._dirty.add(key)

    def deleted(self, report: JobReport) -> None:
        if (key := self.history.deleted(report)) is not None:
            self._dirty.add(key)

    def take_changed(self) -> dict[Key, CronJobStatus]:
        """The status of every CronJob whose runs changed since the last call."""
        changed = {key: self.history.status(key) for key in self._dirty}
        self._dirty.clear()
        return changed

    def statuses(self) -> dict[Key, CronJobStatus]:
        return {key: self.history.status(key) for key in self.history.names()}
