"""The naive alternative: a prometheus_client Collector that rebuilds everything per scrape.

This is how most Python exporters are written: `collect()` walks the store, analyses every Job
and yields metric families that `generate_latest` formats. It reads the same slim store as
`ExporterState` (its Jobs and pods), so the comparison is of the scrape path only. It renders
the families every Job has (info, state, attempts, restarts, start time, last exit): fewer
lines than jobwatch's body, which favours the naive side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from jobwatch import metrics as m
from jobwatch.analysis.job import analyse
from jobwatch.state import ExporterState


class NaiveCollector:
    def __init__(self, state: ExporterState, clock: Callable[[], float]) -> None:
        self._state, self._clock = state, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock()
        labels = list(m.JOB_LABELS)
        info = GaugeMetricFamily(m.JOB_INFO.name, m.JOB_INFO.help, labels=list(m.JOB_INFO.labels))
        state = GaugeMetricFamily(
            m.JOB_STATE.name, m.JOB_STATE.help, labels=list(m.JOB_STATE.labels)
        )
        used = GaugeMetricFamily(m.JOB_ATTEMPTS_USED.name, m.JOB_ATTEMPTS_USED.help, labels=labels)
        limit = GaugeMetricFamily(
            m.JOB_ATTEMPTS_LIMIT.name, m.JOB_ATTEMPTS_LIMIT.help, labels=labels
        )
        restarts = GaugeMetricFamily(
            m.JOB_CONTAINER_RESTARTS.name, m.JOB_CONTAINER_RESTARTS.help, labels=labels
        )
        start = GaugeMetricFamily(m.JOB_START.name, m.JOB_START.help, labels=labels)
        exit_ = GaugeMetricFamily(
            m.JOB_LAST_EXIT_CODE.name,
            m.JOB_LAST_EXIT_CODE.help,
            labels=list(m.JOB_LAST_EXIT_CODE.labels),
        )
        store = self._state.store
        for uid, job in store.jobs.items():
            r = analyse(job, store.pods_of(uid), now)
            key = [r.namespace, r.name, r.cronjob]
            info.add_metric([*key, r.restart_policy, r.completion_mode], 1)
            state.add_metric([*key, r.state.value, r.reason], 1)
            if r.attempts is not None:
                used.add_metric(key, r.attempts.used)
                limit.add_metric(key, r.attempts.limit)
            restarts.add_metric(key, r.container_restarts)
            if r.start_at is not None:
                start.add_metric(key, r.start_at)
            if (e := r.last_exit) is not None:
                exit_.add_metric([*key, e.container, e.reason, e.cause.value], e.code)
        yield from (info, state, used, limit, restarts, start, exit_)


def scraper(state: ExporterState, clock: Callable[[], float]) -> Callable[[], bytes]:
    """A zero-argument scrape of the naive collector: `generate_latest` of its registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NaiveCollector(state, clock))
    return lambda: generate_latest(registry)
