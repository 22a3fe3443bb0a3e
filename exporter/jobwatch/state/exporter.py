"""The exporter's state: what the informers feed (`Sink`) and what the HTTP server reads.

`ExporterState` ties the parts together, each with one home: the slim store (`store`), the pure
analysis (`jobwatch.analysis`), the render cache (`cache`), CronJob tracking (`cronjobs`), the
failure counters (`counters`) and the self-metrics (`telemetry`, which the informers report to
directly). A change marks its Job dirty; `render_forever` (run by `serve`) analyses dirty Jobs
in bounded, debounced steps as events arrive and publishes a new body, so a scrape (`latest`)
only writes cached segments and never analyses (design principle 4). The served body is at most
`DEBOUNCE` plus one pass over the changed Jobs behind the events; its age is exported as
`jobwatch_exporter_unrendered_change_age_seconds`. Deleted Jobs lose their series at once;
CronJob history and counters outlive them (principle 5). With a `Shard`, only this shard's
Jobs, their pods and its CronJobs are kept (`jobwatch.sharding`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.analysis.job import analyse
from jobwatch.analysis.report import CronJobStatus, JobReport
from jobwatch.body import Exposition
from jobwatch.model import CRONJOBS, JOBS, PODS, Job, Pod, Resource
from jobwatch.sharding import ALL, Shard
from jobwatch.sink import Object
from jobwatch.state.cache import RenderCache
from jobwatch.state.counters import FailureCounters
from jobwatch.state.cronjobs import CronJobs, Key
from jobwatch.state.store import Store, in_scope
from jobwatch.state.telemetry import SelfMetrics
from jobwatch.vocabulary import JOB_REASONS, bounded

log = logging.getLogger("jobwatch.state")

REFRESH_STEP = 250  # Jobs analysed per step at most
STEP_SECONDS = 0.002  # and for about this long: the event loop is never held much longer
DEBOUNCE = 0.25  # seconds the renderer collects changes before a pass
GC_THRESHOLDS = (20_000, 20, 50)  # young collections every 20k allocations, not every 700


def _remember_exits(report: JobReport, previous: JobReport | None) -> JobReport:
    """Keep the last exit seen when the pods that showed it are gone.

    The Job controller deletes active pods when a Job fails (DeadlineExceeded, an OnFailure crash
    loop reaching backoffLimit) and users delete pods; a termination cannot un-happen, so the
    exit code and the failures it explained stay with the Job for as long as the Job exists.
    """
    if previous is None or report.last_exit is not None or previous.last_exit is None:
        return report
    failures = report.failures or previous.failures
    return dataclasses.replace(report, last_exit=previous.last_exit, failures=failures)


def _freeze_heap() -> None:
    """Move every object alive now out of the collector's generations, and collect the young
    ones at the thresholds that suit a large long-lived heap."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class ExporterState:
    """Implements `Sink`; `telemetry` implements `Telemetry`; renders `/metrics`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        cronjob_history: int = 50,
        namespace_retention: float = 3600.0,
        shard: Shard = ALL,
    ) -> None:
        self._clock = clock
        self.shard = shard
        self.telemetry = SelfMetrics(clock)
        self.telemetry.on_settled = self._end_baseline
        self.failures = FailureCounters(clock, reason=lambda r: bounded(r, JOB_REASONS))
        self._baseline_done = False  # every informer listed: later changes count
        self._baseline: set[str] = set()  # Jobs of the initial LISTs not analysed yet
        self._ready = False  # the published body shows the initial LISTs
        self._namespace_retention = namespace_retention
        self._jobless_since: dict[str, float] = {}
        self.cronjobs = CronJobs(cronjob_history)
        self.store = Store(self.telemetry, shard, on_change=self._changed)
        self.cache = RenderCache()
        self._reports: dict[str, JobReport] = {}
        self.analysed = 0  # analyse() calls so far: scrapes of an unchanged cluster add none
        self._listing: dict[tuple[Resource, str | None], tuple[set[object], list[int]]] = {}
        self._changed_since: float | None = None  # oldest change not yet being rendered
        self._rendering_since: float | None = None  # oldest change in the pass under way
        self._wake = asyncio.Event()
        self._frozen = False

    # --- Sink -------------------------------------------------------------------------------

    def takes_records(self, resource: Resource) -> bool:
        """Jobs and Pods come as records decoded from the bytes (the store takes dicts too)."""
        return resource in (JOBS, PODS)

    def replace(self, resource: Resource, scope: str | None, objects: Sequence[Object]) -> int:
        """Replace semantics; returns how many records were missing, extra or different
        (what a periodic relist counts as drift)."""
        self.list_started(resource, scope)
        self.list_page(resource, scope, objects)
        return self.list_done(resource, scope)

    def list_started(self, resource: Resource, scope: str | None) -> None:
        """A (re)LIST of `resource` in `scope` begins: pages follow, then `list_done`."""
        self._listing[resource, scope] = (set(), [0])

    def list_page(self, resource: Resource, scope: str | None, objects: Sequence[Object]) -> None:
        """One LIST page, applied at once (so the whole LIST is never held)."""
        seen, differences = self._listing.setdefault((resource, scope), (set(), [0]))
        if resource == CRONJOBS:
            for obj in objects:
                if (key := self._cronjob_key(obj, "ADDED")) is not None:
                    seen.add(key)
                    differences[0] += self._owns_cronjob(obj) and self._cronjob_exists(key)
            return
        if resource not in (JOBS, PODS):
            log.warning("ignoring unknown resource %r", resource)
            return
        held: Mapping[str, object] = self.store.held(resource)
        for obj in objects:
            record = self.store.parse(resource, obj)
            if record is None:
                continue
            seen.add(record.uid)
            if self._baseline:
                self._baseline_first(record)
            before = held.get(record.uid)
            self.store.put(record)
            differences[0] += held.get(record.uid) != before
        if not self._baseline_done and self.telemetry.expecting:
            self._freeze_page()

    def list_done(self, resource: Resource, scope: str | None) -> int:
        """The LIST is complete: what it did not show in `scope` is gone. Returns how many
        records were missing, extra or different over the whole LIST."""
        seen, differences = self._listing.pop((resource, scope), (set(), [0]))
        if resource == CRONJOBS:
            self.cronjobs.watching = True
            self._refresh()  # record runs seen so far before judging which CronJobs are gone
            known = self.cronjobs.known()
            gone = [k for k in known if in_scope(k[0], scope) and k not in seen]
            for key in gone:
                self._cronjob_gone(key)
            return differences[0] + len(gone)
        if resource not in (JOBS, PODS):
            return 0
        for uid in self.store.uids_in(resource, scope):
            if uid not in seen:
                self._remove(resource, uid)
                differences[0] += 1
        if resource == JOBS:
            self.store.foreign &= {u for u in seen if isinstance(u, str)}
        return differences[0]

    def apply(self, resource: Resource, event_type: str, obj: Object) -> None:
        if resource == CRONJOBS:
            self._apply_cronjob(event_type, obj)
            return
        if resource not in (JOBS, PODS):
            log.warning("ignoring unknown resource %r", resource)
            return
        record = self.store.parse(resource, obj)
        if record is None:
            return
        if event_type == "DELETED":
            self._remove(resource, record.uid)
        else:
            if self._baseline:
                self._baseline_first(record)
            self.store.put(record)

    # --- reading ----------------------------------------------------------------------------

    def reports(self) -> Mapping[str, JobReport]:
        """Analyse what changed, then the current report of every Job, by Job uid."""
        self._refresh()
        return MappingProxyType(self._reports)

    def cronjob_statuses(self) -> Mapping[Key, CronJobStatus]:
        """Analyse what changed, then per (namespace, cronjob) what its series say, including
        runs whose Jobs are deleted."""
        self._refresh()
        return self.cronjobs.statuses()

    def generation(self) -> int:
        """Analyse what changed, then a number that changes whenever a report, a CronJob status
        or the set of Jobs does (the status page caches what it derives from `reports()`)."""
        self._refresh()
        return self.cache.generation

    def refresh_step(self, budget: int = REFRESH_STEP, seconds: float | None = None) -> bool:
        """Analyse at most `budget` changed Jobs (and, with `seconds`, stop once that long
        passed); True once none is left. The renderer calls this between awaits, so a big
        backlog (the first render of a large cluster, a resync) never holds the loop long."""
        if seconds is None and len(self.store.dirty) <= budget:
            self._refresh()
            return True
        started = time.perf_counter()
        now = self._clock()
        for _ in range(min(budget, len(self.store.dirty))):
            (uid,) = self.store.take_dirty(1)
            self._analyse_one(uid, now)
            if seconds is not None and time.perf_counter() - started >= seconds:
                break
        if self.store.dirty:
            return False
        self._render_cronjobs()
        return True

    async def settle(self, max_steps: int | None = None) -> None:
        """`refresh_step`s of about STEP_SECONDS until nothing is left, yielding to the event
        loop between steps; after `max_steps` steps the rest is done in one go."""
        steps = itertools.count() if max_steps is None else range(max_steps)
        for _ in steps:
            if self.refresh_step(seconds=STEP_SECONDS):
                return
            await asyncio.sleep(0)
        self._refresh()

    def expire(self) -> None:
        """Mark every Job for re-analysis at the current time (stalls and retries depend on
        it); the renderer's next pass does the work, re-rendering only what changed."""
        self.store.dirty.update(self.store.jobs)
        self._wake.set()

    def resync(self) -> int:
        """Re-analyse every Job at the current time (stalls and retries depend on it); re-render
        only those whose report changed. Returns how many changed."""
        self.expire()
        return self._refresh()

    def exposition(self, openmetrics: bool) -> bytes:
        """The whole /metrics body in text 0.0.4 or OpenMetrics 1.0.0, analysed up to now
        (tests, tools). The server uses `latest`, which never analyses."""
        self._refresh()
        self._changed_since = self._rendering_since = None
        body = self.cache.body(self._tail(openmetrics), openmetrics)
        self.cache.publish_again()
        self._baseline_published()
        return body

    def latest(self, openmetrics: bool) -> Exposition:
        """The last published body plus a fresh tail: no analysis, no join of Job lines."""
        segments, crc, size = self.cache.published(openmetrics)
        return Exposition(segments, crc, size, self._tail(openmetrics))

    @property
    def unrendered_age(self) -> float:
        """Seconds since the oldest change that the served body does not show yet."""
        oldest = [t for t in (self._changed_since, self._rendering_since) if t is not None]
        return max(0.0, self._clock() - min(oldest)) if oldest else 0.0

    async def render_forever(self, debounce: float = DEBOUNCE) -> None:
        """Analyse and publish changes as they arrive, in bounded steps that yield to the loop.
        A pass starts `debounce` seconds after the first change it will include."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(debounce)
            await self.render_pass()

    async def render_pass(self) -> None:
        """One pass: analyse every dirty Job, re-join stale chunks, publish the bodies."""
        self._wake.clear()
        self._rendering_since, self._changed_since = self._changed_since, None
        await self.settle()
        # Every baseline Job is rendered before this join starts, so the body published below
        # shows them all (a chunk that changes during the join keeps a segment joined after).
        baseline_rendered = self._baseline_done and not self._baseline
        await self.cache.join_stale_off_loop(STEP_SECONDS)
        await self.cache.publish_soon()
        self._rendering_since = None
        if baseline_rendered:
            self._baseline_published()

    def _tail(self, openmetrics: bool) -> bytes:
        tracked: dict[Resource, int] = {JOBS: len(self.store.jobs), PODS: len(self.store.pods)}
        if self.cronjobs.watching:
            tracked[CRONJOBS] = len(self.cronjobs)
        return ex.finish(
            (
                ex.counter(m.JOB_FAILURES_TOTAL, self.failures.jobs.series(), openmetrics),
                ex.counter(
                    m.CONTAINER_FAILURES_TOTAL, self.failures.containers.series(), openmetrics
                ),
                self.telemetry.render(tracked, openmetrics, self.unrendered_age),
            ),
            openmetrics,
        )

    def _changed(self) -> None:
        if self._changed_since is None:
            self._changed_since = self._clock()
        self._wake.set()

    def _freeze_page(self) -> None:
        """During the initial sync, after each LIST page: what it added is long-lived, so it
        leaves the collector's generations at once. Otherwise every gen2 collection walks the
        whole heap listed so far: near the end of a 250k-pod sync, about a second each."""
        _freeze_heap()

    def _freeze(self) -> None:
        """After the initial sync: the long-lived records leave the collector's generations,
        so gen2 collections stop walking them (their memory is still freed by refcount)."""
        if not self._frozen:
            self._frozen = True
            _freeze_heap()

    # --- Jobs and Pods ----------------------------------------------------------------------

    def _remove(self, resource: Resource, uid: str) -> None:
        job_uid = self.store.job_of(resource, uid)
        if job_uid is None:
            return
        if resource == PODS and job_uid not in self.store.jobs:
            self.store.depart(uid)  # its Job is still on its way: it will see this pod
            return
        # Count and record what changed since the last scrape (an exit code, a failure) before
        # the object goes, or it would be lost with it.
        if job_uid in self.store.dirty and job_uid in self.store.jobs:
            self.store.dirty.discard(job_uid)
            self._analyse_batch([job_uid])
        self.store.remove(resource, uid)
        if resource == JOBS:
            self._changed()  # its series go with the next pass
            self.cache.set_job(uid, None)
            self.failures.forget(uid)
            report = self._reports.pop(uid, None)
            if report is not None:
                self.cronjobs.deleted(report)

    # --- CronJobs (only when they are watched) ---------------------------------------------

    def _apply_cronjob(self, event_type: str, obj: Any) -> None:
        self.cronjobs.watching = True
        key = self._cronjob_key(obj, event_type)
        if key is None or not self._owns_cronjob(obj):
            return
        if event_type == "DELETED":
            self._refresh()
            self._cronjob_gone(key)
        else:
            self._cronjob_exists(key)

    def _cronjob_key(self, obj: Any, event_type: str) -> Key | None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(meta, dict):
            namespace, name = meta.get("namespace"), meta.get("name")
            if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
                return namespace, name
        self.store.malformed(CRONJOBS, obj, f"{event_type} without metadata.namespace/name")
        return None

    def _owns_cronjob(self, obj: Any) -> bool:
        meta = obj.get("metadata")
        uid = meta.get("uid") if isinstance(meta, dict) else None
        return not self.shard.sharded or (isinstance(uid, str) and self.shard.owns(uid))

    def _cronjob_exists(self, key: Key) -> bool:
        if not self.cronjobs.add(key):
            return False
        # Its Jobs may have arrived first (separate watches): their runs count from now on.
        for uid, report in self._reports.items():
            if (report.namespace, report.cronjob) == key:
                self.cronjobs.record(report, self.store.jobs[uid].created_at)
        return True

    def _cronjob_gone(self, key: Key) -> None:
        """A deleted CronJob's series go (principle 5); its Jobs, if orphaned, keep theirs."""
        self.cronjobs.remove(key)
        self.cache.drop_cronjob(key)
        self._changed()

    # --- analysis and rendering -------------------------------------------------------------

    def _end_baseline(self) -> None:
        """Once every informer has listed (or is known unavailable), what exists is the
        baseline: analysed and recorded without counting; from now on failures count
        (state/counters.py, docs/reliability.md). The Jobs the LISTs changed and that are not
        analysed yet are the baseline: the renderer analyses them in its bounded steps (one
        synchronous pass over 50k Jobs held the loop for seconds); a change to one of them
        first analyses it as it was listed. `ready` once a published body shows them all."""
        if not self._baseline_done:
            self._baseline_done = True
            self._baseline = set(self.store.dirty)
            self._wake.set()

    def _baseline_first(self, record: Job | Pod) -> None:
        """Before a change to a baseline Job (or its pod) lands, analyse the Job as listed,
        uncounted, so the change is counted against the baseline and never absorbed into it."""
        uid = record.job_uid if isinstance(record, Pod) else record.uid
        if uid in self._baseline:
            self.store.dirty.discard(uid)
            self._analyse_batch([uid])

    @property
    def ready(self) -> bool:
        """Every informer listed (or is known unavailable) and the published body shows what
        the initial LISTs showed: what /readyz reports."""
        return self._ready and self.telemetry.ready

    def _baseline_published(self) -> None:
        """A body that shows every baseline Job is published: ready from now on."""
        if not self._ready and self._baseline_done and not self._baseline:
            self._ready = True
            if self.telemetry.expecting:
                self._freeze()

    def expire_namespaces(self) -> int:
        """Drop the failure counter series of namespaces that have had no Job for the
        retention period (bounded series, issue 11 §5); returns how many series went."""
        now = self._clock()
        with_jobs = {job.namespace for job in self.store.jobs.values()}
        families = (self.failures.jobs, self.failures.containers)
        counted = {series.labels[0] for family in families for series in family.series()}
        for namespace in counted - with_jobs:
            self._jobless_since.setdefault(namespace, now)
        for namespace in [n for n in self._jobless_since if n in with_jobs or n not in counted]:
            del self._jobless_since[namespace]
        retention = self._namespace_retention
        expired = {n for n, since in self._jobless_since.items() if now - since >= retention}
        for namespace in expired:
            del self._jobless_since[namespace]
        if not expired:
            return 0
        return self.failures.retain_namespaces(lambda namespace: namespace not in expired)

    def _analyse_batch(self, uids: Iterable[str]) -> int:
        """Analyse these Jobs at one `now`; returns how many reports changed."""
        now = self._clock()
        return sum(self._analyse_one(uid, now) for uid in uids)

    def _analyse_one(self, uid: str, now: float) -> bool:
        # Before every informer has listed, what arrives is the baseline: not counted; nor is
        # a Job of the initial LISTs that is analysed for the first time after them.
        if self._baseline:
            baseline = uid in self._baseline
            self._baseline.discard(uid)
        else:
            baseline = False
        self.failures.counting = (
            self._baseline_done or not self.telemetry.expecting
        ) and not baseline
        if uid not in self.store.jobs:
            return False
        started = time.perf_counter()
        changed = self._analyse(uid, now)
        if changed:
            self.telemetry.rendered(time.perf_counter() - started)
        return changed

    def _refresh(self) -> int:
        changed = self._analyse_batch(self.store.take_dirty())
        self._render_cronjobs()
        return changed

    def _render_cronjobs(self) -> None:
        for key, status in self.cronjobs.take_changed().items():
            self.cache.set_cronjob(key, ex.render_cronjob(status))

    def _analyse(self, uid: str, now: float) -> bool:
        """Analyse one Job; re-render it (and its CronJob) when the report changed."""
        job = self.store.jobs[uid]
        previous = self._reports.get(uid)
        self.analysed += 1
        try:
            if departed := self.store.take_departed(uid):
                # Pods deleted before the Job arrived: first what it would have shown with them.
                earlier = analyse(job, self.store.pods_of(uid, departed), now)
                self.failures.observe(earlier)
                previous_exits: JobReport | None = _remember_exits(earlier, previous)
            else:
                previous_exits = previous
            report = _remember_exits(analyse(job, self.store.pods_of(uid), now), previous_exits)
        except Exception as error:  # a bug must cost one Job's series, not the whole scrape
            self.store.malformed(
                JOBS,
                {"metadata": {"namespace": job.namespace, "name": job.name}},
                f"cannot analyse: {error!r}",
            )
            self._reports.pop(uid, None)
            if self.cache.has_job(uid):
                self.cache.set_job(uid, None)
            return previous is not None
        if previous == report:
            return False
        self._reports[uid] = report
        self.cache.set_job(uid, ex.render_job(report))
        self.failures.observe(report)
        if self.cronjobs.records_runs_of(report):
            self.cronjobs.record(report, job.created_at)
        return True
