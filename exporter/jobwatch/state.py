"""The exporter's state: slim Jobs and Pods, their reports, and their pre-rendered exposition.

`ExporterState` is what the informers feed (`Sink` and `Telemetry`) and what the HTTP server
reads (`exposition`, `ready`, `last_heartbeat`). Raw objects are projected to slim records at
once and never kept. A change marks its Job dirty; `render_forever` (run by `serve`) analyses
dirty Jobs in bounded, debounced steps as events arrive and publishes a new body, so a scrape
(`latest`) only writes cached segments and never analyses (design principle 4). The served body
is at most `DEBOUNCE` plus one pass over the changed Jobs behind the events; its age is
exported as `jobwatch_exporter_unrendered_change_age_seconds`. Deleted Jobs lose their series at
once; CronJob history and counters outlive them (principle 5). With a `Shard`, only this shard's
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
from typing import Any, TypeVar

from jobwatch import exposition as ex
from jobwatch import metrics as m
from jobwatch.analysis.job import analyse
from jobwatch.analysis.report import JobReport
from jobwatch.body import ChunkedFamilies, Exposition, Segment, combined_crc
from jobwatch.counters import FailureCounters
from jobwatch.cronjobs import CronJobHistory, Key
from jobwatch.model import Job, Pod, parse_job, parse_pod
from jobwatch.sharding import ALL, Shard
from jobwatch.sink import Raw, Result, Verb
from jobwatch.telemetry import SelfMetrics

log = logging.getLogger("jobwatch.state")

JOBS = "jobs"
PODS = "pods"
CRONJOBS = "cronjobs"
REFRESH_STEP = 250  # Jobs analysed per step at most
STEP_SECONDS = 0.005  # and for about this long: the event loop is never held much longer
DEBOUNCE = 0.25  # seconds the renderer collects changes before a pass
GC_THRESHOLDS = (20_000, 20, 50)  # young collections every 20k allocations, not every 700
MAX_LOGGED = 1024  # distinct malformed objects remembered so each is logged once

R = TypeVar("R", Job, Pod)


def _in_scope(namespace: str, scope: str | None) -> bool:
    return scope is None or namespace == scope


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


class ExporterState:
    """Implements `Sink` and `Telemetry`; renders `/metrics`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        cronjob_history: int = 50,
        shard: Shard = ALL,
    ) -> None:
        self._clock = clock
        self.shard = shard
        self.telemetry = SelfMetrics(clock)
        self.failures = FailureCounters(clock)
        self.history = CronJobHistory(cronjob_history)
        self._jobs: dict[str, Job] = {}
        self._pods: dict[str, Pod] = {}
        self._pods_by_job: dict[str, dict[str, Pod]] = {}
        self._dirty: set[str] = set()
        self._reports: dict[str, JobReport] = {}
        # Per family and chunk of Jobs, the samples joined and compressed: one changed Job
        # re-joins only its chunk of the families whose lines it changed.
        self._families = ChunkedFamilies(ex.JOB_FAMILIES)
        self._cron_fragments: dict[Key, ex.Fragments] = {}
        self._cron_dirty: set[Key] = set()
        self._generation = 0
        self._published: dict[bool, tuple[int, tuple[Segment, ...], int, int]] = {}
        self._bodies: dict[bool, tuple[int, bytes, bytes]] = {}
        self._foreign: set[str] = set()  # Jobs of other shards: their pods are not kept
        self._listing: dict[tuple[str, str | None], set[str]] = {}  # uids seen per LIST
        self._changed_since: float | None = None  # oldest change not yet being rendered
        self._rendering_since: float | None = None  # oldest change in the pass under way
        self._wake = asyncio.Event()
        self._rendered_once = False
        self._renderer = False
        self._frozen = False
        self._logged: set[tuple[str, str]] = set()
        self._cronjob_names: dict[Key, None] = {}  # CronJobs that exist (when watched)
        self._watching_cronjobs = False
        self.analysed = 0  # analyse() calls so far: scrapes of an unchanged cluster add none

    # --- Sink -------------------------------------------------------------------------------

    def replace(self, resource: str, scope: str | None, objects: Sequence[Raw]) -> None:
        self.list_started(resource, scope)
        self.list_page(resource, scope, objects)
        self.list_done(resource, scope)

    def list_started(self, resource: str, scope: str | None) -> None:
        """A (re)LIST of `resource` in `scope` begins: pages follow, then `list_done`."""
        self._listing[resource, scope] = set()

    def list_page(self, resource: str, scope: str | None, objects: Sequence[Raw]) -> None:
        """One LIST page: applied at once (ADDED), so the whole LIST is never held."""
        seen = self._listing.setdefault((resource, scope), set())
        if resource == JOBS:
            for obj in objects:
                if (job := self._parse(resource, obj, parse_job)) is not None:
                    seen.add(job.uid)
                    self._put_job(job)
        elif resource == PODS:
            for obj in objects:
                if (pod := self._parse(resource, obj, parse_pod)) is not None:
                    seen.add(pod.uid)
                    self._put_pod(pod)
        elif resource == CRONJOBS:
            for obj in objects:
                key = self._cronjob_key(obj, "ADDED")
                if key is not None:
                    seen.add("/".join(key))
                    if self._owns_cronjob(obj):
                        self._cronjob_exists(key)
        else:
            log.warning("ignoring unknown resource %r", resource)

    def list_done(self, resource: str, scope: str | None) -> None:
        """The LIST is complete: what it did not show in `scope` is gone (Replace semantics)."""
        seen = self._listing.pop((resource, scope), set())
        if resource in (JOBS, PODS):
            current: Mapping[str, Job | Pod] = self._jobs if resource == JOBS else self._pods
            remove = self._remove_job if resource == JOBS else self._remove_pod
            for uid in [u for u, r in current.items() if _in_scope(r.namespace, scope)]:
                if uid not in seen:
                    remove(uid)
            if resource == JOBS:
                self._foreign = {u for u in self._foreign if u in seen}
        elif resource == CRONJOBS:
            self._watching_cronjobs = True
            self._refresh()  # record runs seen so far before judging which CronJobs are gone
            known = {*self._cronjob_names, *self.history.names()}
            for key in [k for k in known if _in_scope(k[0], scope) and "/".join(k) not in seen]:
                self._cronjob_gone(key)

    def apply(self, resource: str, event_type: str, obj: Raw) -> None:
        if resource == JOBS:
            self._apply_record(
                resource,
                event_type,
                obj,
                parse=parse_job,
                put=self._put_job,
                remove=self._remove_job,
            )
        elif resource == PODS:
            self._apply_record(
                resource,
                event_type,
                obj,
                parse=parse_pod,
                put=self._put_pod,
                remove=self._remove_pod,
            )
        elif resource == CRONJOBS:
            self._watching_cronjobs = True
            key = self._cronjob_key(obj, event_type)
            if key is None:
                return
            if not self._owns_cronjob(obj):
                return
            if event_type == "DELETED":
                self._refresh()
                self._cronjob_gone(key)
            else:
                self._cronjob_exists(key)
        else:
            log.warning("ignoring unknown resource %r", resource)

    # --- Telemetry --------------------------------------------------------------------------

    def request(self, resource: str, verb: Verb, result: Result) -> None:
        self.telemetry.request(resource, verb, result)

    def relisted(self, resource: str) -> None:
        self.telemetry.relisted(resource)

    def event(self, resource: str, event_type: str) -> None:
        self.telemetry.event(resource, event_type)

    def heartbeat(self, resource: str, at: float) -> None:
        self.telemetry.heartbeat(resource, at)

    def synced(self, resource: str, scope: str | None) -> None:
        self.telemetry.synced(resource, scope)
        self._wake.set()  # ready once a body including the first LISTs is published

    def expect(self, resource: str, scope: str | None) -> None:
        """Register a (resource, scope) whose first LIST must complete before `ready`."""
        self.telemetry.expect(resource, scope)

    @property
    def ready(self) -> bool:
        """Every first LIST is in, and (with a renderer) a body that includes it is served."""
        return self.telemetry.ready and (self._rendered_once or not self._renderer)

    @property
    def last_heartbeat(self) -> float | None:
        return self.telemetry.last_heartbeat

    # --- reading ----------------------------------------------------------------------------

    @property
    def reports(self) -> Mapping[str, JobReport]:
        """The current report of every Job, by Job uid."""
        self._refresh()
        return MappingProxyType(self._reports)

    @property
    def cronjobs(self) -> Mapping[Key, ex.CronJobStatus]:
        """Per (namespace, cronjob) history, including runs whose Jobs are deleted."""
        self._refresh()
        return {key: self.history.status(key) for key in self.history.names()}

    def refresh_step(self, budget: int = REFRESH_STEP, seconds: float | None = None) -> bool:
        """Analyse at most `budget` changed Jobs (and, with `seconds`, stop once that long
        passed); True once none is left. The renderer calls this between awaits, so a big
        backlog (the first render of a large cluster, a resync) never holds the loop long."""
        if seconds is None and len(self._dirty) <= budget:
            self._refresh()
            return True
        started = time.perf_counter()
        now = self._clock()
        for _ in range(min(budget, len(self._dirty))):
            uid = self._dirty.pop()
            self._analyse_one(uid, now)
            if seconds is not None and time.perf_counter() - started >= seconds:
                break
        if self._dirty:
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
        self._dirty.update(self._jobs)
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
        segments, _, _ = self._publish(openmetrics)
        tail = self._tail(openmetrics)
        last = self._bodies.get(openmetrics)
        if last is not None and last[0] == self._generation and last[1] == tail:
            return last[2]  # the very same object while nothing changed
        body = b"".join(s.raw for s in segments) + tail
        self._bodies[openmetrics] = (self._generation, tail, body)
        return body

    def latest(self, openmetrics: bool) -> Exposition:
        """The last published body plus a fresh tail: no analysis, no join of Job lines."""
        published = self._published.get(openmetrics)
        if published is None:  # the first scrape in this format: publish what is rendered
            published = (self._generation, *self._publish(openmetrics))
        _, segments, crc, size = published
        return Exposition(segments, crc, size, self._tail(openmetrics))

    @property
    def unrendered_age(self) -> float:
        """Seconds since the oldest change that the served body does not show yet."""
        oldest = [t for t in (self._changed_since, self._rendering_since) if t is not None]
        return max(0.0, self._clock() - min(oldest)) if oldest else 0.0

    async def render_forever(self, debounce: float = DEBOUNCE) -> None:
        """Analyse and publish changes as they arrive, in bounded steps that yield to the loop.
        A pass starts `debounce` seconds after the first change it will include."""
        self._renderer = True
        while True:
            await self._wake.wait()
            await asyncio.sleep(debounce)
            await self.render_pass()

    async def render_pass(self) -> None:
        """One pass: analyse every dirty Job, re-join stale chunks, publish both bodies."""
        self._wake.clear()
        self._rendering_since, self._changed_since = self._changed_since, None
        await self.settle()
        for _ in itertools.count():
            if self._families.join_stale(STEP_SECONDS):
                break
            await asyncio.sleep(0)  # yield between bounded steps
        for openmetrics in (False, True):
            if openmetrics in self._published or not openmetrics:
                generation, segments = self._generation, self._segments(openmetrics)
                crc, size = await asyncio.to_thread(combined_crc, segments)
                self._published[openmetrics] = (generation, segments, crc, size)
        self._rendering_since = None
        if self.telemetry.ready and not self._rendered_once:
            self._rendered_once = True
            self._freeze()

    def _freeze(self) -> None:
        """After the initial sync: the long-lived records leave the collector's generations,
        so gen2 collections stop walking them (their memory is still freed by refcount)."""
        if not self._frozen:
            self._frozen = True
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)

    def _segments(self, openmetrics: bool) -> tuple[Segment, ...]:
        self._render_cronjobs()
        segments = self._families.segments(openmetrics)
        cron = ex.families(ex.CRONJOB_FAMILIES, list(self._cron_fragments.values()), openmetrics)
        if cron:
            segments.append(Segment.of(cron))
        return tuple(segments)

    def _publish(self, openmetrics: bool) -> tuple[tuple[Segment, ...], int, int]:
        published = self._published.get(openmetrics)
        if published is not None and published[0] == self._generation:
            return published[1:]
        segments = self._segments(openmetrics)
        crc, size = combined_crc(segments)
        self._published[openmetrics] = (self._generation, segments, crc, size)
        return segments, crc, size

    def _tail(self, openmetrics: bool) -> bytes:
        tracked = {JOBS: len(self._jobs), PODS: len(self._pods)}
        if self._watching_cronjobs:
            tracked[CRONJOBS] = len(self._cronjob_names)
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

    # --- parsing ----------------------------------------------------------------------------

    def _parse(self, resource: str, obj: Any, parse: Callable[[Raw], R]) -> R | None:
        why = "not an object"
        if isinstance(obj, dict):
            try:
                record = parse(obj)
            except Exception as error:  # a parser bug must not stop the informer
                why = repr(error)
            else:
                if record.uid:
                    return record
                why = "no metadata.uid"
        self._malformed(resource, obj, why)
        return None

    def _apply_record(
        self,
        resource: str,
        event_type: str,
        obj: Raw,
        *,
        parse: Callable[[Raw], R],
        put: Callable[[R], None],
        remove: Callable[[str], None],
    ) -> None:
        record = self._parse(resource, obj, parse)
        if record is None:
            return
        if event_type == "DELETED":
            remove(record.uid)
        else:
            put(record)

    def _malformed(self, resource: str, obj: Any, why: str) -> None:
        self.telemetry.parse_error(resource)
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        where = "?"
        if isinstance(meta, dict):
            where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if (resource, where) not in self._logged:
            if len(self._logged) >= MAX_LOGGED:
                self._logged.clear()
            self._logged.add((resource, where))
            log.warning("skipping malformed %s object %s: %s", resource, where, why)

    # --- CronJobs (only when they are watched) ---------------------------------------------

    def _cronjob_key(self, obj: Any, event_type: str) -> Key | None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if isinstance(meta, dict):
            namespace, name = meta.get("namespace"), meta.get("name")
            if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
                return namespace, name
        self._malformed(CRONJOBS, obj, f"{event_type} without metadata.namespace/name")
        return None

    def _owns_cronjob(self, obj: Raw) -> bool:
        meta = obj.get("metadata")
        uid = meta.get("uid") if isinstance(meta, dict) else None
        return not self.shard.sharded or (isinstance(uid, str) and self.shard.owns(uid))

    def _cronjob_exists(self, key: Key) -> None:
        if key in self._cronjob_names:
            return
        self._cronjob_names[key] = None
        # Its Jobs may have arrived first (separate watches): their runs count from now on.
        for uid, report in self._reports.items():
            if (report.namespace, report.cronjob) == key:
                self.history.record(report, self._jobs[uid].created_at)
                self._cron_dirty.add(key)

    def _cronjob_gone(self, key: Key) -> None:
        """A deleted CronJob's series go (principle 5); its Jobs, if orphaned, keep theirs."""
        self._cronjob_names.pop(key, None)
        self.history.drop(key)
        self._cron_dirty.discard(key)
        if self._cron_fragments.pop(key, None) is not None:
            self._generation += 1
            self._changed()

    def _records_runs_of(self, report: JobReport) -> bool:
        """CronJob history follows the CronJob objects when they are watched."""
        if not report.cronjob:
            return False
        return (
            not self._watching_cronjobs or (report.namespace, report.cronjob) in self._cronjob_names
        )

    # --- store ------------------------------------------------------------------------------

    def _owns(self, job: Job) -> bool:
        return self.shard.owns(job.cronjob_uid or job.uid)

    def _put_job(self, job: Job) -> None:
        if self.shard.sharded and not self._owns(job):
            if job.uid not in self._foreign:
                self._foreign.add(job.uid)
                for pod_uid in list(self._pods_by_job.get(job.uid, {})):
                    self._drop_pod(pod_uid)  # arrived before their Job: not ours after all
            return
        if self._jobs.get(job.uid) != job:
            self._jobs[job.uid] = job
            self._dirty.add(job.uid)
            self._changed()

    def _remove_job(self, uid: str) -> None:
        self._foreign.discard(uid)
        if uid not in self._jobs:
            return
        self._analyse_pending(uid)
        del self._jobs[uid]
        self._set_fragments(uid, None)
        self.failures.forget(uid)
        report = self._reports.pop(uid, None)
        if report is not None and (key := self.history.deleted(report)) is not None:
            self._cron_dirty.add(key)
        self._generation += 1
        self._changed()

    def _put_pod(self, pod: Pod) -> None:
        if not pod.job_uid or pod.job_uid in self._foreign:
            return  # not a Job's pod, or another shard's Job's
        old = self._pods.get(pod.uid)
        if old == pod:
            return
        if old is not None and old.job_uid != pod.job_uid:
            self._unindex(old)
        self._pods[pod.uid] = pod
        self._pods_by_job.setdefault(pod.job_uid, {})[pod.uid] = pod
        self._dirty.add(pod.job_uid)
        self._changed()

    def _remove_pod(self, uid: str) -> None:
        pod = self._pods.get(uid)
        if pod is None:
            return
        self._analyse_pending(pod.job_uid)
        self._drop_pod(uid)

    def _drop_pod(self, uid: str) -> None:
        pod = self._pods.pop(uid)
        self._unindex(pod)

    def _unindex(self, pod: Pod) -> None:
        siblings = self._pods_by_job.get(pod.job_uid, {})
        siblings.pop(pod.uid, None)
        if not siblings:
            self._pods_by_job.pop(pod.job_uid, None)
        self._dirty.add(pod.job_uid)

    # --- analysis and rendering -------------------------------------------------------------

    def _analyse_pending(self, uid: str) -> None:
        """Before a Job or one of its pods goes: count and record what changed since the last
        scrape (an exit code, a failure), or it would be lost with the object."""
        if uid in self._dirty and uid in self._jobs:
            self._dirty.discard(uid)
            self._analyse_batch([uid])

    def _analyse_batch(self, uids: Iterable[str]) -> int:
        """Analyse these Jobs at one `now`; returns how many reports changed."""
        now = self._clock()
        return sum(self._analyse_one(uid, now) for uid in uids)

    def _analyse_one(self, uid: str, now: float) -> bool:
        if uid not in self._jobs:
            return False
        started = time.perf_counter()
        changed = self._analyse(uid, now)
        if changed:
            self.telemetry.rendered(time.perf_counter() - started)
        return changed

    def _refresh(self) -> int:
        changed = self._analyse_batch(self._dirty)
        self._dirty.clear()
        self._render_cronjobs()
        return changed

    def _set_fragments(self, uid: str, fragments: ex.Fragments | None) -> bool:
        return self._families.set(uid, fragments)

    def _render_cronjobs(self) -> None:
        """Once per refresh, however many of a CronJob's runs changed."""
        for key in self._cron_dirty:
            self._cron_fragments[key] = ex.render_cronjob(self.history.status(key))
        if self._cron_dirty:
            self._generation += 1
        self._cron_dirty.clear()

    def _analyse(self, uid: str, now: float) -> bool:
        """Analyse one Job; re-render it (and its CronJob) when the report changed."""
        job = self._jobs[uid]
        pods = sorted(
            self._pods_by_job.get(uid, {}).values(), key=lambda p: (p.created_at or 0.0, p.name)
        )
        previous = self._reports.get(uid)
        self.analysed += 1
        try:
            report = _remember_exits(analyse(job, pods, now), previous)
        except Exception as error:  # a bug must cost one Job's series, not the whole scrape
            self._malformed(
                JOBS,
                {"metadata": {"namespace": job.namespace, "name": job.name}},
                f"cannot analyse: {error!r}",
            )
            self._reports.pop(uid, None)
            if self._set_fragments(uid, None):
                self._generation += 1
            return previous is not None
        if previous == report:
            return False
        self._reports[uid] = report
        self._set_fragments(uid, ex.render_job(report))
        self.failures.observe(report)
        if (
            self._records_runs_of(report)
            and (key := self.history.record(report, job.created_at)) is not None
        ):
            self._cron_dirty.add(key)
        self._generation += 1
        return True
