"""The slim store: Jobs and Job Pods as slim records, Pods indexed by Job, and what changed.

The informer hands records it decoded from the bytes (`jobwatch.decode`) or, for what the typed
decoder rejects (and for tests and tools), raw dicts, which are projected to `jobwatch.model`
records at once and never kept. A malformed object (or a record without a uid) is counted
(`jobwatch_exporter_parse_errors_total`), logged once, and skipped; the rest carries on. Pods are
held once, by uid; each Job keeps the uids of its pods in a tuple (a few bytes per pod).
A change marks its Job dirty: only dirty Jobs are analysed again. With a `Shard`, only this
shard's Jobs and their pods are kept (`jobwatch.sharding`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from jobwatch.model import JOBS, PODS, Job, Pod, Raw, Record, Resource, parse_job, parse_pod
from jobwatch.sharding import ALL, Shard
from jobwatch.state.telemetry import SelfMetrics

log = logging.getLogger("jobwatch.state")

MAX_LOGGED = 1024  # distinct malformed objects remembered so each is logged once
MAX_DEPARTED = 1024  # deleted pods kept for Jobs not held yet (see `Store.depart`)
SMALL_JOB = 16  # pods a Job's index keeps in a tuple; a bigger Job's in a dict (O(1) changes)

R = TypeVar("R", Job, Pod)
PARSERS: dict[Resource, Callable[[Raw], Record]] = {JOBS: parse_job, PODS: parse_pod}
RECORDS: dict[Resource, type[Record]] = {JOBS: Job, PODS: Pod}


def in_scope(namespace: str, scope: str | None) -> bool:
    return scope is None or namespace == scope


class Store:
    """Slim Jobs and Pods by uid; `dirty` holds the uids of Jobs changed since their analysis."""

    def __init__(
        self,
        telemetry: SelfMetrics,
        shard: Shard = ALL,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._telemetry = telemetry
        self.shard = shard
        self._on_change = on_change  # a Job became dirty: the renderer has work
        self.foreign: set[str] = set()  # Jobs of other shards: their pods are not kept
        self.jobs: dict[str, Job] = {}
        self.pods: dict[str, Pod] = {}
        # Each Job's pod uids, in arrival order: a tuple (small), a dict's keys past SMALL_JOB.
        self._pods_by_job: dict[str, tuple[str, ...] | dict[str, None]] = {}
        self.dirty: set[str] = set()
        # Pods deleted before their Job arrived, by Job uid, oldest first (bounded).
        self._departed: dict[str, dict[str, Pod]] = {}
        self._logged: set[tuple[str, str]] = set()

    # --- parsing ----------------------------------------------------------------------------

    def parse(self, resource: Resource, obj: Any) -> Record | None:
        """The slim record of a raw Job or Pod (or the record the informer decoded); None
        (counted and logged) when malformed."""
        why = "not an object"
        if isinstance(obj, (Job, Pod)):
            if type(obj) is not RECORDS[resource]:
                why = f"a {type(obj).__name__} record"
            elif obj.uid:
                return obj
            else:
                why = "no metadata.uid"
        elif isinstance(obj, dict):
            try:
                record = PARSERS[resource](obj)
            except Exception as error:  # a parser bug must not stop the informer
                why = repr(error)
            else:
                if record.uid:
                    return record
                why = "no metadata.uid"
        self.malformed(resource, obj, why)
        return None

    def parse_all(self, resource: Resource, objects: Sequence[Raw | Record]) -> dict[str, Record]:
        parsed = (self.parse(resource, obj) for obj in objects)
        return {r.uid: r for r in parsed if r is not None}

    def malformed(self, resource: Resource, obj: Any, why: str) -> None:
        """Count a skipped object; log it the first time (bounded memory of what was logged)."""
        self._telemetry.parse_error(resource)
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        where = "?"
        if isinstance(obj, (Job, Pod)):
            where = f"{obj.namespace}/{obj.name}"
        elif isinstance(meta, dict):
            where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        if (resource, where) not in self._logged:
            if len(self._logged) >= MAX_LOGGED:
                self._logged.clear()
            self._logged.add((resource, where))
            log.warning("skipping malformed %s object %s: %s", resource, where, why)

    # --- records ----------------------------------------------------------------------------

    def uids_in(self, resource: Resource, scope: str | None) -> list[str]:
        """Uids of the Jobs or Pods held in `scope` (a namespace, None for all)."""
        held: dict[str, Job] | dict[str, Pod] = self.jobs if resource == JOBS else self.pods
        return [uid for uid, r in held.items() if in_scope(r.namespace, scope)]

    def put(self, record: Record) -> None:
        if isinstance(record, Job):
            self._put_job(record)
        else:
            self._put_pod(record)

    def owns(self, job: Job) -> bool:
        """A Job is this shard's by its UID, or by its CronJob's UID when it has one."""
        return self.shard.owns(job.cronjob_uid or job.uid)

    def _put_job(self, job: Job) -> None:
        if self.shard.sharded and not self.owns(job):
            if job.uid not in self.foreign:
                self.foreign.add(job.uid)
                for pod_uid in list(self._pods_by_job.get(job.uid, ())):
                    self.remove(PODS, pod_uid)  # arrived before their Job: not ours after all
            return
        if self.jobs.get(job.uid) != job:
            self.jobs[job.uid] = job
            self._dirty(job.uid)

    def _dirty(self, job_uid: str) -> None:
        self.dirty.add(job_uid)
        self._on_change()

    def _put_pod(self, pod: Pod) -> None:
        if not pod.job_uid or pod.job_uid in self.foreign:
            return  # not a Job's pod, or another shard's Job's
        old = self.pods.get(pod.uid)
        if old == pod:
            return
        if old is not None and old.job_uid != pod.job_uid:
            self._unindex(old)
            old = None
        self.pods[pod.uid] = pod
        if old is None:
            self._index(pod)
        self._dirty(pod.job_uid)

    def _index(self, pod: Pod) -> None:
        siblings = self._pods_by_job.get(pod.job_uid, ())
        if isinstance(siblings, dict):
            siblings[pod.uid] = None
        elif len(siblings) < SMALL_JOB:
            self._pods_by_job[pod.job_uid] = (*siblings, pod.uid)
        else:
            self._pods_by_job[pod.job_uid] = dict.fromkeys((*siblings, pod.uid))

    def job_of(self, resource: Resource, uid: str) -> str | None:
        """The uid of the Job a held record belongs to (itself for a Job); None if not held."""
        if resource == JOBS:
            return uid if uid in self.jobs else None
        pod = self.pods.get(uid)
        return None if pod is None else pod.job_uid

    def remove(self, resource: Resource, uid: str) -> None:
        if resource == JOBS:
            self.foreign.discard(uid)
            self.jobs.pop(uid, None)
            self.dirty.discard(uid)
            self._departed.pop(uid, None)
            return
        pod = self.pods.pop(uid, None)
        if pod is not None:
            self._unindex(pod)

    def depart(self, uid: str) -> None:
        """Remove a pod whose Job is not held (yet) but keep it aside: the Job and Pod watches
        are separate streams, so the Job's ADDED event may come after the controller deleted
        its failed pods; what they showed must still reach the Job's first analysis."""
        pod = self.pods.get(uid)
        if pod is None:
            return
        self.remove(PODS, uid)
        self._departed.setdefault(pod.job_uid, {})[uid] = pod
        while sum(len(p) for p in self._departed.values()) > MAX_DEPARTED:
            oldest = next(iter(self._departed))
            del self._departed[oldest]

    def take_departed(self, job_uid: str) -> list[Pod]:
        """The pods of this Job deleted before it was held (and not held again since: events
        may come twice or out of order), forgotten from now on."""
        departed = self._departed.pop(job_uid, {})
        return [pod for uid, pod in departed.items() if uid not in self.pods]

    def _unindex(self, pod: Pod) -> None:
        siblings = self._pods_by_job.get(pod.job_uid, ())
        if isinstance(siblings, dict):
            siblings.pop(pod.uid, None)
        else:
            siblings = tuple(u for u in siblings if u != pod.uid)
            self._pods_by_job[pod.job_uid] = siblings
        if not siblings:
            self._pods_by_job.pop(pod.job_uid, None)
        self._dirty(pod.job_uid)

    def pods_of(self, job_uid: str, also: Iterable[Pod] = ()) -> list[Pod]:
        """The Job's pods (and `also`), oldest first (ties by name)."""
        held = self.pods
        pods: Iterable[Pod] = [*(held[u] for u in self._pods_by_job.get(job_uid, ())), *also]
        return sorted(pods, key=lambda p: (p.created_at or 0.0, p.name))

    def held(self, resource: Resource) -> dict[str, Job] | dict[str, Pod]:
        return self.jobs if resource == JOBS else self.pods

    def take_dirty(self, budget: int | None = None) -> list[str]:
        """Up to `budget` (all when None) dirty Job uids, no longer dirty."""
        if budget is None or len(self.dirty) <= budget:
            taken = list(self.dirty)
            self.dirty.clear()
            return taken
        return [self.dirty.pop() for _ in range(budget)]
