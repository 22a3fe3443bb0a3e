"""Counters with bounded labels, and the failure counters that count each failure exactly once.

Semantics (docs/reliability.md "Counters"): a failure is counted when it is *observed happening*
— a Job newly in a failed state, a pod's container newly terminated with a failure, or a
container's `restartCount` increase, counted in full (a container that crashed five times between
two analyses adds five, each with the cause of the termination seen last). What already existed
when the exporter started is the baseline: recorded, never counted. So a restart neither drops a
counter below what Prometheus saw nor counts the surviving failures again; Prometheus reads the
restart as a fresh counter starting at 0 (its `_created` is the process start), and `increase()`
over the restart is exactly the failures that happened after it. Failures that happened while no
exporter was running are not counted by any.

Identities already counted are kept per Job uid and forgotten when the Job is deleted, so memory
follows the cluster, not the exporter's uptime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from jobwatch.analysis.report import JobReport
from jobwatch.vocabulary import State

Labels = tuple[str, ...]


class CounterSeries(NamedTuple):
    """One counter series (what `exposition.counter` renders): label values in the family's
    label order, value, creation time."""

    labels: Labels
    value: float
    created: float


class Counter:
    """One counter family's series: label values -> value, each with its creation time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._values: dict[Labels, float] = {}
        self._created: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        if labels not in self._values:
            self._values[labels] = 0.0
            self._created[labels] = self._clock()
        self._values[labels] += amount

    def init(self, labels: Labels) -> None:
        """Create the series at 0, so rate() works from the first scrape."""
        self.inc(labels, 0.0)

    def value(self, labels: Labels) -> float:
        return self._values.get(labels, 0.0)

    def series(self) -> Iterator[CounterSeries]:
        for labels, value in self._values.items():
            yield CounterSeries(labels, value, self._created[labels])

    def drop(self, keep: Callable[[Labels], bool]) -> int:
        """Remove the series `keep` rejects; returns how many went."""
        gone = [labels for labels in self._values if not keep(labels)]
        for labels in gone:
            del self._values[labels], self._created[labels]
        return len(gone)


class FailureCounters:
    """`jobwatch_job_failures_total` and `jobwatch_container_failures_total`."""

    def __init__(self, clock: Callable[[], float], reason: Callable[[str], str] = str) -> None:
        self.jobs = Counter(clock)
        self.containers = Counter(clock)
        self.counting = True  # False while the baseline (what exists at start) is recorded
        self._reason = reason
        self._failed_jobs: set[str] = set()
        # Per Job uid, per (pod uid, container): the highest run whose failure is accounted for.
        self._runs: dict[str, dict[tuple[str, str], int]] = {}

    def observe(self, report: JobReport) -> None:
        """Count what is new in this report: the Job's first failed state, and every container
        run that failed since the last report, including runs hidden by a restartCount jump."""
        if report.state is State.FAILED and report.uid not in self._failed_jobs:
            self._failed_jobs.add(report.uid)
            if self.counting:
                labels = (report.namespace, report.cronjob, self._reason(report.reason))
                self.jobs.inc(labels)
        runs = self._runs.setdefault(report.uid, {})
        for failure in sorted(report.failures, key=lambda f: f.restart):
            key = (failure.pod_uid, failure.container)
            done = runs.get(key, -1)
            if failure.restart <= done:
                continue
            runs[key] = failure.restart
            if self.counting:
                labels = (report.namespace, report.cronjob, failure.cause.value)
                self.containers.inc(labels, failure.restart - done)

    def forget(self, job_uid: str) -> None:
        self._failed_jobs.discard(job_uid)
        self._runs.pop(job_uid, None)

    def retain_namespaces(self, keep: Callable[[str], bool]) -> int:
        """Drop the series of namespaces `keep` rejects (no Jobs for the retention period)."""
        return self.jobs.drop(lambda labels: keep(labels[0])) + self.containers.drop(
            lambda labels: keep(labels[0])
        )

    @property
    def remembered(self) -> int:
        """Identities held (for tests of bounded memory)."""
        return len(self._failed_jobs) + sum(len(s) for s in self._runs.values())
