"""The exporter's state: slim Jobs and Pods, their reports, and their pre-rendered exposition.

`ExporterState` is what the informers feed (`Sink` and `Telemetry`) and what the HTTP server
reads (`exposition`, `ready`, `last_heartbeat`). Raw objects are projected to slim records at
once and never kept. A change marks its Job dirty; before a scrape only dirty Jobs are analysed
and re-rendered, so a scrape of an unchanged cluster only joins bytes (design principle 4).
Deleted Jobs lose their series at once; CronJob history and counters outlive them (principle 5).
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from jobwatch.counters import FailureCounters
from jobwatch.cronjobs import CronJobHistory, Key
from jobwatch.model import Job, Pod, parse_job, parse_pod
from jobwatch.sink import Raw, Result, Verb
from jobwatch.telemetry import SelfMetrics

log = logging.getLogger("jobwatch.state")

JOBS = "jobs"
PODS = "pods"
CRONJOBS = "cronjobs"
REFRESH_STEP = 250  # Jobs analysed per step: a few tens of milliseconds at most
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

    def __init__(self, clock: Callable[[], float] = time.time, cronjob_history: int = 50) -> None:
        self._clock = clock
        self.telemetry = SelfMetrics(clock)
        self.failures = FailureCounters(clock)
        self.history = CronJobHistory(cronjob_history)
        self._jobs: dict[str, Job] = {}
        self._pods: dict[str, Pod] = {}
        self._pods_by_job: dict[str, dict[str, Pod]] = {}
        self._dirty: set[str] = set()
        self._reports: dict[str, JobReport] = {}
        self._job_fragments: dict[str, ex.Fragments] = {}
        # Per family, the samples of every Job joined: one changed Job re-joins only the
        # families whose lines it changed, not all of them.
        self._family_samples: dict[str, bytes] = {}
        self._stale_families: set[str] = set()
        self._cron_fragments: dict[Key, ex.Fragments] = {}
        self._cron_dirty: set[Key] = set()
        self._generation = 0
        self._cache: dict[bool, tuple[int, bytes]] = {}
        self._bodies: dict[bool, tuple[int, tuple[bytes, ...], bytes]] = {}
        self._logged: set[tuple[str, str]] = set()
        self._cronjob_names: dict[Key, None] = {}  # CronJobs that exist (when watched)
        self._watching_cronjobs = False
        self.analysed = 0  # analyse() calls so far: scrapes of an unchanged cluster add none

    # --- Sink -------------------------------------------------------------------------------

    def replace(self, resource: str, scope: str | None, objects: Sequence[Raw]) -> None:
        if resource == JOBS:
            self._replace_records(
                resource,
                scope,
                objects,
                parse=parse_job,
                current=self._jobs,
                put=self._put_job,
                remove=self._remove_job,
            )
        elif resource == PODS:
            self._replace_records(
                resource,
                scope,
                objects,
                parse=parse_pod,
                current=self._pods,
                put=self._put_pod,
                remove=self._remove_pod,
            )
        elif resource == CRONJOBS:
            self._watching_cronjobs = True
            listed = {
                key for obj in objects if (key := self._cronjob_key(obj, "ADDED")) is not None
            }
            self._refresh()  # record runs seen so far before judging which CronJobs are gone
            known = {*self._cronjob_names, *self.history.names()}
            for key in [k for k in known if _in_scope(k[0], scope) and k not in listed]:
                self._cronjob_gone(key)
            for key in listed:
                self._cronjob_exists(key)
        else:
            log.warning("ignoring unknown resource %r", resource)

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

    def expect(self, resource: str, scope: str | None) -> None:
        """Register a (resource, scope) whose first LIST must complete before `ready`."""
        self.telemetry.expect(resource, scope)

    @property
    def ready(self) -> bool:
        return self.telemetry.ready

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

    @property
    def generation(self) -> int:
        """A number that changes whenever a report, a CronJob status or the set of Jobs does
        (readers such as the status page cache what they derive from `reports` by it)."""
        self._refresh()
        return self._generation

    def refresh_step(self, budget: int = REFRESH_STEP) -> bool:
        """Analyse at most `budget` changed Jobs; True once none is left. The server and the
        resync loop call this between awaits, so a big backlog (the first scrape of a large
        cluster, a resync) never holds the event loop for long."""
        if len(self._dirty) <= budget:
            self._refresh()
            return True
        self._analyse_batch([self._dirty.pop() for _ in range(budget)])
        return False

    async def settle(self, max_steps: int | None = None) -> None:
        """`refresh_step` until nothing is left, yielding to the event loop between steps;
        after `max_steps` steps the rest is done in one go."""
        steps = itertools.count() if max_steps is None else range(max_steps)
        for _ in steps:
            if self.refresh_step():
                return
            await asyncio.sleep(0)
        self._refresh()

    def expire(self) -> None:
        """Mark every Job for re-analysis at the current time (stalls and retries depend on
        it); `refresh_step` or the next scrape does the work, re-rendering only what changed."""
        self._dirty.update(self._jobs)

    def resync(self) -> int:
        """Re-analyse every Job at the current time (stalls and retries depend on it); re-render
        only those whose report changed. Returns how many changed."""
        self.expire()
        return self._refresh()

    def exposition(self, openmetrics: bool) -> bytes:
        """The whole /metrics body in text 0.0.4 or OpenMetrics 1.0.0."""
        self._refresh()
        cached = self._cache.get(openmetrics)
        if cached is None or cached[0] != self._generation:
            self._join_stale_families()
            body = ex.joined_families(ex.JOB_FAMILIES, self._family_samples, openmetrics)
            body += ex.families(
                ex.CRONJOB_FAMILIES, list(self._cron_fragments.values()), openmetrics
            )
            cached = (self._generation, body)
            self._cache[openmetrics] = cached
        tracked = {JOBS: len(self._jobs), PODS: len(self._pods)}
        if self._watching_cronjobs:
            tracked[CRONJOBS] = len(self._cronjob_names)
        tail = (
            ex.counter(m.JOB_FAILURES_TOTAL, self.failures.jobs.series(), openmetrics),
            ex.counter(m.CONTAINER_FAILURES_TOTAL, self.failures.containers.series(), openmetrics),
            self.telemetry.render(tracked, openmetrics),
        )
        last = self._bodies.get(openmetrics)
        if last is not None and last[0] == cached[0] and last[1] == tail:
            return last[2]  # the very same object: the server's gzip cache hits on identity
        body = ex.finish((cached[1], *tail), openmetrics)
        self._bodies[openmetrics] = (cached[0], tail, body)
        return body

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

    def _replace_records(
        self,
        resource: str,
        scope: str | None,
        objects: Sequence[Raw],
        *,
        parse: Callable[[Raw], R],
        current: Mapping[str, R],
        put: Callable[[R], None],
        remove: Callable[[str], None],
    ) -> None:
        """Replace semantics: exactly `objects` exist in `scope` afterwards."""
        parsed = (self._parse(resource, obj, parse) for obj in objects)
        listed = {r.uid: r for r in parsed if r is not None}
        for uid in [u for u, r in current.items() if _in_scope(r.namespace, scope)]:
            if uid not in listed:
                remove(uid)
        for record in listed.values():
            put(record)

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

    def _records_runs_of(self, report: JobReport) -> bool:
        """CronJob history follows the CronJob objects when they are watched."""
        if not report.cronjob:
            return False
        return (
            not self._watching_cronjobs or (report.namespace, report.cronjob) in self._cronjob_names
        )

    # --- store ------------------------------------------------------------------------------

    def _put_job(self, job: Job) -> None:
        if self._jobs.get(job.uid) != job:
            self._jobs[job.uid] = job
            self._dirty.add(job.uid)

    def _remove_job(self, uid: str) -> None:
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

    def _put_pod(self, pod: Pod) -> None:
        if not pod.job_uid:
            return  # not a Job's pod
        old = self._pods.get(pod.uid)
        if old == pod:
            return
        if old is not None and old.job_uid != pod.job_uid:
            self._unindex(old)
        self._pods[pod.uid] = pod
        self._pods_by_job.setdefault(pod.job_uid, {})[pod.uid] = pod
        self._dirty.add(pod.job_uid)

    def _remove_pod(self, uid: str) -> None:
        pod = self._pods.get(uid)
        if pod is None:
            return
        self._analyse_pending(pod.job_uid)
        del self._pods[uid]
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
        started = time.perf_counter()
        now = self._clock()
        changed = sum(self._analyse(uid, now) for uid in uids if uid in self._jobs)
        if changed:
            self.telemetry.rendered(time.perf_counter() - started)
        return changed

    def _refresh(self) -> int:
        changed = self._analyse_batch(self._dirty)
        self._dirty.clear()
        self._render_cronjobs()
        return changed

    def _set_fragments(self, uid: str, fragments: ex.Fragments | None) -> None:
        old = self._job_fragments.get(uid, {})
        new = fragments or {}
        if fragments is None:
            self._job_fragments.pop(uid, None)
        else:
            self._job_fragments[uid] = fragments  # in place: families keep one Job order
        self._stale_families.update(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))

    def _join_stale_families(self) -> None:
        fragments = self._job_fragments.values()
        for name in self._stale_families:
            self._family_samples[name] = b"".join(f[name] for f in fragments if name in f)
        self._stale_families.clear()

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
            if self._job_fragments.get(uid) is not None:
                self._set_fragments(uid, None)
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
