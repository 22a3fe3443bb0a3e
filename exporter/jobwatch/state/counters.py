"""Counters with bounded labels, and the failure counters that count each failure exactly once.

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


class FailureCounters:
    """`jobwatch_job_failures_total` and `jobwatch_container_failures_total`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.jobs = Counter(clock)
        self.containers = Counter(clock)
        self._failed_jobs: set[str] = set()
        self._seen: dict[str, set[tuple[str, str, int]]] = {}

    def observe(self, report: JobReport) -> None:
        """Count what is new in this report: the Job's first failed state, new failures."""
        if report.state is State.FAILED and report.uid not in self._failed_jobs:
            self._failed_jobs.add(report.uid)
            self.jobs.inc((report.namespace, report.cronjob, report.reason))
        seen = self._seen.setdefault(report.uid, set())
        for failure in report.failures:
            identity = (failure.pod_uid, failure.container, failure.restart)
            if identity not in seen:
                seen.add(identity)
                self.containers.inc((report.namespace, report.cronjob, failure.cause.value))

    def forget(self, job_uid: str) -> None:
        self._failed_jobs.discard(job_uid)
        self._seen.pop(job_uid, None)

    @property
    def remembered(self) -> int:
        """Identities held (for tests of bounded memory)."""
        return len(self._failed_jobs) + sum(len(s) for s in self._seen.values())
