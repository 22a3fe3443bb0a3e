"""Slim, frozen records of Jobs and Pods, and the tolerant projection of raw JSON dicts onto them.

Records keep only what the analysis reads (no messages: nothing shows them), so a pod costs a
few hundred bytes: they are `msgspec.Struct`s with `gc=False` (no cycle-collector header, never
walked by a collection), vocabulary strings are interned, and repeated timestamps and condition
lists are shared through small bounded caches. The informer builds records straight from the
bytes (`jobwatch.decode`, typed msgspec structs); `parse_job` / `parse_pod` here are the
tolerant path for plain dicts (`jobwatch diagnose`, tests, and any line the typed decoder
rejects). Parsing never raises on missing, null or mistyped fields and keeps unknown enum
values as they are: a malformed field degrades to its default.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import msgspec

JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
JOB_CONTROLLER = "kubernetes.io/job-controller"
DEFAULT_BACKOFF_LIMIT = 6  # pkg/apis/batch/v1/defaults.go (docs/job-semantics.md §1.2)
MAX_INT32 = 2**31 - 1
CACHE_LIMIT = 16_384  # distinct timestamps / condition lists remembered (then forgotten at once)

ContainerKind = Literal["init", "sidecar", "regular"]
# One API object as decoded from JSON (orjson, `kubectl -o json`): read, never mutated downstream.
Raw = Mapping[str, Any]
# The API resources jobwatch reads, by their plural API name (the `resource` label's values).
Resource = Literal["jobs", "pods", "cronjobs"]
JOBS: Resource = "jobs"
PODS: Resource = "pods"
CRONJOBS: Resource = "cronjobs"


# --- tolerant accessors -------------------------------------------------------------------


_EMPTY: Raw = {}


def _map(value: object) -> Raw:
    if type(value) is dict:  # JSON objects: skip the slow abstract-base-class check
        return value
    return value if isinstance(value, Mapping) else _EMPTY


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _word(value: object, default: str = "") -> str:
    """A string from a small vocabulary (reasons, types, names shared by many objects, UIDs
    that pods repeat): interned, so 100k pods share one copy instead of holding 100k."""
    return sys.intern(value) if isinstance(value, str) else default


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _bool(value: object) -> bool:
    return value is True


_TIMES: dict[str, float | None] = {}


def parse_time(value: object) -> float | None:
    """RFC 3339 (`2026-05-04T10:00:03Z`, with or without fractions) to Unix seconds.

    API timestamps have a resolution of one second, so pods and their conditions repeat them:
    a bounded cache saves the parse and shares one float object between the records. A plain
    dict, not `functools.lru_cache`: measured here, a hit costs half as much (94 against 176 ns),
    and forgetting everything at the bound is as good as LRU for timestamps that only advance."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return _TIMES[value]
    except KeyError:
        pass
    try:
        seconds: float | None = datetime.fromisoformat(value).timestamp()
    except ValueError:
        seconds = None
    if len(_TIMES) >= CACHE_LIMIT:
        _TIMES.clear()
    _TIMES[value] = seconds
    return seconds


_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def shared(items: tuple[Any, ...]) -> tuple[Any, ...]:
    """One copy of an equal tuple of frozen records (conditions, container statuses): pods of a
    Job started together report the same ones. Bounded like the time cache."""
    if not items:
        return ()
    found = _SHARED.get(items)
    if found is not None:
        return found
    if len(_SHARED) >= CACHE_LIMIT:
        _SHARED.clear()
    _SHARED[items] = items
    return items


# --- shared records -------------------------------------------------------------------------


class Condition(msgspec.Struct, frozen=True, gc=False):
    type: str
    status: str
    reason: str
    transition_at: float | None

    @property
    def is_true(self) -> bool:
        return self.status == "True"


def _conditions(raw: object) -> tuple[Condition, ...]:
    out = []
    for item in _list(raw):
        c = _map(item)
        out.append(
            Condition(
                type=_word(c.get("type")),
                status=_word(c.get("status")),
                reason=_word(c.get("reason")),
                transition_at=parse_time(c.get("lastTransitionTime")),
            )
        )
    return shared(tuple(out))


def find_condition(conditions: tuple[Condition, ...], type_: str) -> Condition | None:
    for condition in conditions:
        if condition.type == type_:
            return condition
    return None


def _controller_owner(meta: Raw) -> Raw:
    for ref in _list(meta.get("ownerReferences")):
        ref_map = _map(ref)
        if ref_map.get("controller") is True:
            return ref_map
    return {}


# --- pods ---------------------------------------------------------------------------------------


class Termination(msgspec.Struct, frozen=True, gc=False):
    exit_code: int
    reason: str
    signal: int
    finished_at: float | None  # (startedAt is not kept: StartError reports 1970-01-01)


class ContainerStatus(msgspec.Struct, frozen=True, gc=False):
    name: str
    kind: ContainerKind
    restart_count: int
    ready: bool
    started: bool
    waiting_reason: str
    running: bool  # state.running is set (its startedAt may still be missing)
    running_since: float | None
    terminated: Termination | None
    last_terminated: Termination | None


def _termination(raw: object) -> Termination | None:
    t = _map(raw)
    if not t:
        return None
    code = _int(t.get("exitCode"))
    return Termination(
        exit_code=code if code is not None else -1,
        reason=_word(t.get("reason")),
        signal=_int(t.get("signal")) or 0,
        finished_at=parse_time(t.get("finishedAt")),
    )


def _container_status(raw: object, kind: ContainerKind) -> ContainerStatus:
    c = _map(raw)
    state = _map(c.get("state"))
    waiting = _map(state.get("waiting"))
    running = _map(state.get("running"))
    restarts = _int(c.get("restartCount"))
    return ContainerStatus(
        name=_word(c.get("name")),
        kind=kind,
        restart_count=max(restarts or 0, 0),
        ready=_bool(c.get("ready")),
        started=_bool(c.get("started")),
        waiting_reason=_word(waiting.get("reason")),
        running=isinstance(state.get("running"), Mapping),
        running_since=parse_time(running.get("startedAt")) if running else None,
        terminated=_termination(state.get("terminated")),
        last_terminated=_termination(_map(c.get("lastState")).get("terminated")),
    )


class Pod(msgspec.Struct, frozen=True, gc=False):
    namespace: str
    name: str
    uid: str
    job_uid: str  # the controller Job's UID: ownerReference, else the controller-uid labels
    phase: str
    reason: str  # status.reason, e.g. Evicted, DeadlineExceeded
    restart_policy: str
    created_at: float | None
    deleting_at: float | None
    deletion_grace_seconds: int | None
    tracked: bool  # still holds the batch.kubernetes.io/job-tracking finalizer
    conditions: tuple[Condition, ...]
    containers: tuple[ContainerStatus, ...]  # init and sidecar first, then regular, API order
    init_count: int  # spec.initContainers, sidecars included (kubectl's Init:i/n)
    completion_index: int | None
    index_failure_count: int
    index_ignored_failure_count: int

    @property
    def is_terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def condition(self, type_: str) -> Condition | None:
        return find_condition(self.conditions, type_)


def parse_pod(raw: Raw) -> Pod:
    """Project a raw Pod dict onto the slim record. Never raises for a mapping input."""
    meta = _map(raw.get("metadata"))
    spec = _map(raw.get("spec"))
    status = _map(raw.get("status"))
    labels = _map(meta.get("labels"))
    annotations = _map(meta.get("annotations"))
    owner = _controller_owner(meta)
    job_uid = _word(owner.get("uid")) if owner.get("kind") == "Job" else ""
    if not job_uid:
        job_uid = next((_word(labels.get(k)) for k in CONTROLLER_UID_LABELS if labels.get(k)), "")
    sidecars = {
        _str(_map(c).get("name"))
        for c in _list(spec.get("initContainers"))
        if _map(c).get("restartPolicy") == "Always"
    }
    init_statuses = tuple(
        _container_status(c, "sidecar" if _str(_map(c).get("name")) in sidecars else "init")
        for c in _list(status.get("initContainerStatuses"))
    )
    regular = tuple(_container_status(c, "regular") for c in _list(status.get("containerStatuses")))
    index = _int(annotations.get(INDEX_ANNOTATION))
    if index is None:
        index = _int(labels.get(INDEX_ANNOTATION))
    return Pod(
        namespace=_word(meta.get("namespace")),
        name=_str(meta.get("name")),
        uid=_str(meta.get("uid")),
        job_uid=job_uid,
        phase=_word(status.get("phase")),
        reason=_word(status.get("reason")),
        restart_policy=_word(spec.get("restartPolicy")),
        created_at=parse_time(meta.get("creationTimestamp")),
        deleting_at=parse_time(meta.get("deletionTimestamp")),
        deletion_grace_seconds=_int(meta.get("deletionGracePeriodSeconds")),
        tracked=JOB_TRACKING_FINALIZER in _list(meta.get("finalizers")),
        conditions=_conditions(status.get("conditions")),
        containers=shared(init_statuses + regular),
        init_count=len(_list(spec.get("initContainers"))),
        completion_index=index,
        index_failure_count=max(_int(annotations.get(INDEX_FAILURE_COUNT)) or 0, 0),
        index_ignored_failure_count=max(_int(annotations.get(INDEX_IGNORED_FAILURE_COUNT)) or 0, 0),
    )


# --- jobs ---------------------------------------------------------------------------------------


class PodFailurePolicyRule(msgspec.Struct, frozen=True, gc=False):
    """One `spec.podFailurePolicy.rules[]` entry (docs/job-semantics.md §1.9)."""

    action: str  # FailJob | FailIndex | Ignore | Count | anything newer (skipped)
    container_name: str | None
    operator: str  # In | NotIn | "" for an onPodConditions rule
    values: frozenset[int]
    pod_conditions: tuple[tuple[str, str], ...]  # (type, status); status defaults to True


def _pfp_rule(raw: object) -> PodFailurePolicyRule:
    r = _map(raw)
    codes = _map(r.get("onExitCodes"))
    values = (_int(v) for v in _list(codes.get("values")))
    return PodFailurePolicyRule(
        action=_str(r.get("action")),
        container_name=_str(codes.get("containerName")) or None,
        operator=_str(codes.get("operator")),
        values=frozenset(v for v in values if v is not None),
        pod_conditions=tuple(
            (_str(_map(p).get("type")), _str(_map(p).get("status"), "True") or "True")
            for p in _list(r.get("onPodConditions"))
        ),
    )


class Job(msgspec.Struct, frozen=True, gc=False):
    namespace: str
    name: str
    uid: str
    created_at: float | None
    cronjob: str  # owner CronJob's name, "" for a standalone Job
    cronjob_uid: str  # owner CronJob's UID: what a sharded exporter hashes such a Job by
    restart_policy: str
    completion_mode: str
    parallelism: int | None
    completions: int | None
    backoff_limit: int
    backoff_limit_per_index: int | None
    max_failed_indexes: int | None
    active_deadline_seconds: int | None
    suspend: bool
    managed_by: str
    pod_replacement_policy: str
    pod_failure_policy: tuple[PodFailurePolicyRule, ...] | None
    active: int
    ready: int
    succeeded: int
    failed: int
    terminating: int
    uncounted_failed: frozenset[str]
    uncounted_succeeded: frozenset[str]
    conditions: tuple[Condition, ...]
    start_time: float | None
    completion_time: float | None
    failed_indexes: str
    completed_indexes: str

    def condition(self, type_: str) -> Condition | None:
        return find_condition(self.conditions, type_)

    def true_condition(self, type_: str) -> Condition | None:
        found = self.condition(type_)
        return found if found is not None and found.is_true else None

    @property
    def indexed(self) -> bool:
        return self.completion_mode == "Indexed"

    @property
    def externally_managed(self) -> bool:
        return bool(self.managed_by) and self.managed_by != JOB_CONTROLLER


def parse_job(raw: Raw) -> Job:
    """Project a raw Job dict onto the slim record, applying API defaults. Never raises."""
    meta = _map(raw.get("metadata"))
    spec = _map(raw.get("spec"))
    status = _map(raw.get("status"))
    pod_spec = _map(_map(spec.get("template")).get("spec"))
    owner = _controller_owner(meta)
    uncounted = _map(status.get("uncountedTerminatedPods"))
    pfp_raw = spec.get("podFailurePolicy")
    pfp = tuple(_pfp_rule(r) for r in _list(_map(pfp_raw).get("rules"))) if pfp_raw else None
    per_index = _int(spec.get("backoffLimitPerIndex"))
    backoff = _int(spec.get("backoffLimit"))
    if backoff is None:  # SetDefaults_Job: MaxInt32 with backoffLimitPerIndex, else 6 (§1.2)
        backoff = MAX_INT32 if per_index is not None else DEFAULT_BACKOFF_LIMIT
    replacement = _str(spec.get("podReplacementPolicy")) or (
        "Failed" if pfp is not None else "TerminatingOrFailed"  # defaults.go (§1.11)
    )

    def count(key: str) -> int:
        return max(_int(status.get(key)) or 0, 0)

    return Job(
        namespace=_word(meta.get("namespace")),
        name=_str(meta.get("name")),
        uid=_word(meta.get("uid")),
        created_at=parse_time(meta.get("creationTimestamp")),
        cronjob=_word(owner.get("name")) if owner.get("kind") == "CronJob" else "",
        cronjob_uid=_str(owner.get("uid")) if owner.get("kind") == "CronJob" else "",
        restart_policy=_word(pod_spec.get("restartPolicy")),
        completion_mode=_word(spec.get("completionMode")) or "NonIndexed",
        parallelism=_int(spec.get("parallelism")),
        completions=_int(spec.get("completions")),
        backoff_limit=backoff,
        backoff_limit_per_index=per_index,
        max_failed_indexes=_int(spec.get("maxFailedIndexes")),
        active_deadline_seconds=_int(spec.get("activeDeadlineSeconds")),
        suspend=_bool(spec.get("suspend")),
        managed_by=_str(spec.get("managedBy")),
        pod_replacement_policy=replacement,
        pod_failure_policy=pfp,
        active=count("active"),
        ready=count("ready"),
        succeeded=count("succeeded"),
        failed=count("failed"),
        terminating=count("terminating"),
        uncounted_failed=frozenset(_str(u) for u in _list(uncounted.get("failed"))),
        uncounted_succeeded=frozenset(_str(u) for u in _list(uncounted.get("succeeded"))),
        conditions=_conditions(status.get("conditions")),
        start_time=parse_time(status.get("startTime")),
        completion_time=parse_time(status.get("completionTime")),
        failed_indexes=_str(status.get("failedIndexes")),
        completed_indexes=_str(status.get("completedIndexes")),
    )


Record = Job | Pod  # what the store holds, by uid
