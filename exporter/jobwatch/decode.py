"""Watch lines and LIST pages decoded straight from bytes into slim records (msgspec).

The informer's hot path. msgspec decodes the JSON into typed structs that declare only the fields
the records need: everything else (managedFields, the pod spec's containers, images, IPs…) is
skipped without being built, and the parse and the projection are one pass in C. Then a few
lines of Python turn the structs into `jobwatch.model` records with exactly the semantics of the
tolerant dict path (`parse_job` / `parse_pod`: the same defaults, the same helpers).

The typed structs reject what they do not expect (`restartCount: "x"`, labels that are a list,
a null where an object goes), and some shapes are ambiguous once unknown fields are skipped
(`terminated: {}` is no termination, `terminated: {"foo": 1}` is one). For those, and only
those, the caller takes the tolerant path for that line or item: orjson and the dict projection,
so the records are always exactly what the dict path makes (tests/test_decode.py checks it on
every fixture and on random mistypings). Nothing here raises on bad input: a function returns
None and the caller falls back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
import orjson

from jobwatch.model import (
    CACHE_LIMIT,
    CONTROLLER_UID_LABELS,
    DEFAULT_BACKOFF_LIMIT,
    INDEX_ANNOTATION,
    INDEX_FAILURE_COUNT,
    INDEX_IGNORED_FAILURE_COUNT,
    JOB_TRACKING_FINALIZER,
    JOBS,
    MAX_INT32,
    PODS,
    Condition,
    ContainerKind,
    ContainerStatus,
    Job,
    Pod,
    PodFailurePolicyRule,
    Record,
    Resource,
    Termination,
    _int,
    _str,
    _word,
    parse_time,
    shared,
)

__all__ = ["Event", "Page", "event", "page", "record"]

# Object events carry a Job or Pod; anything else (ERROR, an unknown type) takes the dict path.
TYPED_EVENTS = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


class _Ambiguous(Exception):
    """The typed structs cannot tell what the dict path would make: take the dict path."""


# --- wire structs: the JSON shape, only the fields the records read -------------------------
# A null is what the dict path treats as missing, so every field also takes None.


class _Owner(msgspec.Struct):
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None


class _Labels(msgspec.Struct):
    controller_uid: str | None = msgspec.field(default=None, name=CONTROLLER_UID_LABELS[0])
    legacy_controller_uid: str | None = msgspec.field(default=None, name=CONTROLLER_UID_LABELS[1])
    index: str | None = msgspec.field(default=None, name=INDEX_ANNOTATION)


class _Annotations(msgspec.Struct):
    index: str | None = msgspec.field(default=None, name=INDEX_ANNOTATION)
    failures: str | None = msgspec.field(default=None, name=INDEX_FAILURE_COUNT)
    ignored: str | None = msgspec.field(default=None, name=INDEX_IGNORED_FAILURE_COUNT)


class _Meta(msgspec.Struct):
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    creationTimestamp: str | None = None
    deletionTimestamp: str | None = None
    deletionGracePeriodSeconds: int | None = None
    labels: _Labels | None = None
    annotations: _Annotations | None = None
    finalizers: list[str] | None = None
    ownerReferences: list[_Owner] | None = None


class _Condition(msgspec.Struct, frozen=True):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    lastTransitionTime: str | None = None


class _SpecContainer(msgspec.Struct):
    name: str | None = None
    restartPolicy: str | None = None


class _PodSpec(msgspec.Struct):
    restartPolicy: str | None = None
    initContainers: list[_SpecContainer] | None = None


class _Terminated(msgspec.Struct, frozen=True):
    exitCode: int | None = None
    reason: str | None = None
    signal: int | None = None
    finishedAt: str | None = None


class _Waiting(msgspec.Struct, frozen=True):
    reason: str | None = None


class _Running(msgspec.Struct, frozen=True):
    startedAt: str | None = None


class _State(msgspec.Struct, frozen=True):
    waiting: _Waiting | None = None
    running: _Running | None = None
    terminated: _Terminated | None = None


class _ContainerStatus(msgspec.Struct, frozen=True):
    name: str | None = None
    restartCount: int | None = None
    ready: bool | None = None
    started: bool | None = None
    state: _State | None = None
    lastState: _State | None = None


class _PodStatus(msgspec.Struct):
    phase: str | None = None
    reason: str | None = None
    conditions: list[_Condition] | None = None
    containerStatuses: list[_ContainerStatus] | None = None
    initContainerStatuses: list[_ContainerStatus] | None = None


class _Pod(msgspec.Struct):
    metadata: _Meta | None = None
    spec: _PodSpec | None = None
    status: _PodStatus | None = None


class _TemplateSpec(msgspec.Struct):
    restartPolicy: str | None = None


class _Template(msgspec.Struct):
    spec: _TemplateSpec | None = None


class _ExitCodes(msgspec.Struct):
    containerName: str | None = None
    operator: str | None = None
    values: list[int] | None = None


class _PodConditionPattern(msgspec.Struct):
    type: str | None = None
    status: str | None = None


class _Rule(msgspec.Struct):
    action: str | None = None
    onExitCodes: _ExitCodes | None = None
    onPodConditions: list[_PodConditionPattern] | None = None


class _PodFailurePolicy(msgspec.Struct):
    rules: list[_Rule] | None = None


class _JobSpec(msgspec.Struct):
    template: _Template | None = None
    completionMode: str | None = None
    parallelism: int | None = None
    completions: int | None = None
    backoffLimit: int | None = None
    backoffLimitPerIndex: int | None = None
    maxFailedIndexes: int | None = None
    activeDeadlineSeconds: int | None = None
    suspend: bool | None = None
    managedBy: str | None = None
    podReplacementPolicy: str | None = None
    podFailurePolicy: _PodFailurePolicy | None = None


class _Uncounted(msgspec.Struct):
    failed: list[str] | None = None
    succeeded: list[str] | None = None


class _JobStatus(msgspec.Struct):
    active: int | None = None
    ready: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    terminating: int | None = None
    uncountedTerminatedPods: _Uncounted | None = None
    conditions: list[_Condition] | None = None
    startTime: str | None = None
    completionTime: str | None = None
    failedIndexes: str | None = None
    completedIndexes: str | None = None


class _Job(msgspec.Struct):
    metadata: _Meta | None = None
    spec: _JobSpec | None = None
    status: _JobStatus | None = None


class _PodEvent(msgspec.Struct):
    type: str
    object: _Pod


class _JobEvent(msgspec.Struct):
    type: str
    object: _Job


class _ListMeta(msgspec.Struct):
    resourceVersion: str | None = None
    # `continue` is a Python keyword: the attribute is `token`.
    token: str | None = msgspec.field(default=None, name="continue")


class _PodPage(msgspec.Struct):
    metadata: _ListMeta
    items: list[_Pod]


class _JobPage(msgspec.Struct):
    metadata: _ListMeta
    items: list[_Job]


class _RawPage(msgspec.Struct):
    metadata: _ListMeta
    items: list[msgspec.Raw]


_EVENTS: dict[Resource, msgspec.json.Decoder[Any]] = {
    PODS: msgspec.json.Decoder(_PodEvent),
    JOBS: msgspec.json.Decoder(_JobEvent),
}
_PAGES: dict[Resource, msgspec.json.Decoder[Any]] = {
    PODS: msgspec.json.Decoder(_PodPage),
    JOBS: msgspec.json.Decoder(_JobPage),
}
_ITEMS: dict[Resource, msgspec.json.Decoder[Any]] = {
    PODS: msgspec.json.Decoder(_Pod),
    JOBS: msgspec.json.Decoder(_Job),
}
_RAW_PAGE = msgspec.json.Decoder(_RawPage)
_NO_META = _Meta()
_NO_POD_SPEC = _PodSpec()
_NO_POD_STATUS = _PodStatus()
_NO_JOB_SPEC = _JobSpec()
_NO_JOB_STATUS = _JobStatus()
_NO_STATE = _State()
_NO_LABELS = _Labels()
_NO_ANNOTATIONS = _Annotations()


# --- structs to records: the semantics of model.parse_pod / parse_job ------------------------


# Records made from equal wire structs, reused: the lookup costs less than building them, and
# pods of a Job started together share them. Bounded like the caches in jobwatch.model.
_CONDITIONS: dict[tuple[_Condition, ...], tuple[Condition, ...]] = {}
_CONTAINERS: dict[tuple[_ContainerStatus, ContainerKind], ContainerStatus] = {}


def _conditions(items: list[_Condition] | None) -> tuple[Condition, ...]:
    if not items:
        return ()
    key = tuple(items)
    found = _CONDITIONS.get(key)
    if found is None:
        found = shared(
            tuple(
                Condition(
                    type=_word(c.type),
                    status=_word(c.status),
                    reason=_word(c.reason),
                    transition_at=parse_time(c.lastTransitionTime),
                )
                for c in items
            )
        )
        if len(_CONDITIONS) >= CACHE_LIMIT:
            _CONDITIONS.clear()
        _CONDITIONS[key] = found
    return found


def _termination(t: _Terminated | None) -> Termination | None:
    if t is None:
        return None
    if t.exitCode is None and t.reason is None and t.signal is None and t.finishedAt is None:
        raise _Ambiguous  # `{}` (no termination) or only fields we skip (a termination)
    return Termination(
        exit_code=t.exitCode if t.exitCode is not None else -1,
        reason=_word(t.reason),
        signal=t.signal or 0,
        finished_at=parse_time(t.finishedAt),
    )


def _container_status(c: _ContainerStatus, kind: ContainerKind) -> ContainerStatus:
    found = _CONTAINERS.get((c, kind))
    if found is None:
        found = _new_container_status(c, kind)
        if len(_CONTAINERS) >= CACHE_LIMIT:
            _CONTAINERS.clear()
        _CONTAINERS[c, kind] = found
    return found


def _new_container_status(c: _ContainerStatus, kind: ContainerKind) -> ContainerStatus:
    state = c.state or _NO_STATE
    running = state.running
    last = c.lastState
    return ContainerStatus(
        name=_word(c.name),
        kind=kind,
        restart_count=max(c.restartCount or 0, 0),
        ready=c.ready is True,
        started=c.started is True,
        waiting_reason=_word(state.waiting.reason) if state.waiting is not None else "",
        running=running is not None,
        running_since=parse_time(running.startedAt) if running is not None else None,
        terminated=_termination(state.terminated),
        last_terminated=_termination(last.terminated) if last is not None else None,
    )


def _controller(meta: _Meta) -> _Owner | None:
    for ref in meta.ownerReferences or ():
        if ref.controller is True:
            return ref
    return None


def _pod(raw: _Pod) -> Pod:
    meta = raw.metadata or _NO_META
    spec = raw.spec or _NO_POD_SPEC
    status = raw.status or _NO_POD_STATUS
    labels = meta.labels or _NO_LABELS
    annotations = meta.annotations or _NO_ANNOTATIONS
    owner = _controller(meta)
    job_uid = _word(owner.uid) if owner is not None and owner.kind == "Job" else ""
    if not job_uid:
        job_uid = _word(labels.controller_uid or labels.legacy_controller_uid or "")
    inits = spec.initContainers or ()
    sidecars = {_str(c.name) for c in inits if c.restartPolicy == "Always"}
    containers = tuple(
        _container_status(c, "sidecar" if _str(c.name) in sidecars else "init")
        for c in status.initContainerStatuses or ()
    ) + tuple(_container_status(c, "regular") for c in status.containerStatuses or ())
    index = _int(annotations.index)
    if index is None:
        index = _int(labels.index)
    return Pod(
        namespace=_word(meta.namespace),
        name=_str(meta.name),
        uid=_str(meta.uid),
        job_uid=job_uid,
        phase=_word(status.phase),
        reason=_word(status.reason),
        restart_policy=_word(spec.restartPolicy),
        created_at=parse_time(meta.creationTimestamp),
        deleting_at=parse_time(meta.deletionTimestamp),
        deletion_grace_seconds=meta.deletionGracePeriodSeconds,
        tracked=JOB_TRACKING_FINALIZER in (meta.finalizers or ()),
        conditions=_conditions(status.conditions),
        containers=shared(containers),
        init_count=len(inits),
        completion_index=index,
        index_failure_count=max(_int(annotations.failures) or 0, 0),
        index_ignored_failure_count=max(_int(annotations.ignored) or 0, 0),
    )


def _rule(r: _Rule) -> PodFailurePolicyRule:
    codes = r.onExitCodes
    return PodFailurePolicyRule(
        action=_str(r.action),
        container_name=(codes.containerName or None) if codes is not None else None,
        operator=_str(codes.operator) if codes is not None else "",
        values=frozenset(codes.values or ()) if codes is not None else frozenset(),
        pod_conditions=tuple((_str(p.type), p.status or "True") for p in r.onPodConditions or ()),
    )


def _job(raw: _Job) -> Job:
    meta = raw.metadata or _NO_META
    spec = raw.spec or _NO_JOB_SPEC
    status = raw.status or _NO_JOB_STATUS
    template = spec.template.spec if spec.template is not None else None
    owner = _controller(meta)
    by_cronjob = owner is not None and owner.kind == "CronJob"
    uncounted = status.uncountedTerminatedPods
    policy = spec.podFailurePolicy
    if policy is not None and policy.rules is None:
        raise _Ambiguous  # `{}` (no policy) or only fields we skip (a policy without rules)
    pfp = tuple(_rule(r) for r in policy.rules or ()) if policy is not None else None
    per_index = spec.backoffLimitPerIndex
    backoff = spec.backoffLimit
    if backoff is None:  # SetDefaults_Job: MaxInt32 with backoffLimitPerIndex, else 6 (§1.2)
        backoff = MAX_INT32 if per_index is not None else DEFAULT_BACKOFF_LIMIT
    replacement = spec.podReplacementPolicy or (
        "Failed" if pfp is not None else "TerminatingOrFailed"  # defaults.go (§1.11)
    )
    return Job(
        namespace=_word(meta.namespace),
        name=_str(meta.name),
        uid=_word(meta.uid),
        created_at=parse_time(meta.creationTimestamp),
        cronjob=_word(owner.name) if by_cronjob and owner is not None else "",
        cronjob_uid=_str(owner.uid) if by_cronjob and owner is not None else "",
        restart_policy=_word(template.restartPolicy) if template is not None else "",
        completion_mode=_word(spec.completionMode) or "NonIndexed",
        parallelism=spec.parallelism,
        completions=spec.completions,
        backoff_limit=backoff,
        backoff_limit_per_index=per_index,
        max_failed_indexes=spec.maxFailedIndexes,
        active_deadline_seconds=spec.activeDeadlineSeconds,
        suspend=spec.suspend is True,
        managed_by=_str(spec.managedBy),
        pod_replacement_policy=replacement,
        pod_failure_policy=pfp,
        active=max(status.active or 0, 0),
        ready=max(status.ready or 0, 0),
        succeeded=max(status.succeeded or 0, 0),
        failed=max(status.failed or 0, 0),
        terminating=max(status.terminating or 0, 0),
        uncounted_failed=frozenset(uncounted.failed or ()) if uncounted else frozenset(),
        uncounted_succeeded=frozenset(uncounted.succeeded or ()) if uncounted else frozenset(),
        conditions=_conditions(status.conditions),
        start_time=parse_time(status.startTime),
        completion_time=parse_time(status.completionTime),
        failed_indexes=_str(status.failedIndexes),
        completed_indexes=_str(status.completedIndexes),
    )


def _record(resource: Resource, raw: Any) -> Record:
    return _pod(raw) if resource == PODS else _job(raw)


# --- what the informer calls -------------------------------------------------------------


class Event(NamedTuple):
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    resource_version: str | None  # metadata.resourceVersion when a non-empty string
    record: Record | None  # None for a BOOKMARK


class Page(NamedTuple):
    items: list[Record | Any]  # records; a raw JSON value where the typed decoder gave up
    token: str  # metadata.continue
    resource_version: str


def decodes(resource: Resource) -> bool:
    """Whether `resource`'s lines and pages are decoded into records here (Jobs and Pods)."""
    return resource in _EVENTS


def event(resource: Resource, line: bytes) -> Event | None:
    """A Job or Pod watch event as a record; None when the line needs the dict path (it is not
    such an event, msgspec rejects a field, or it is ambiguous)."""
    decoder = _EVENTS.get(resource)
    if decoder is None:
        return None
    try:
        decoded = decoder.decode(line)
    except msgspec.DecodeError:  # ValidationError included
        return None
    kind = decoded.type
    if kind not in TYPED_EVENTS:
        return None
    obj = decoded.object
    meta = obj.metadata
    rv = meta.resourceVersion if meta is not None else None
    if kind == "BOOKMARK":
        return Event(kind, rv or None, None)
    try:
        return Event(kind, rv or None, _record(resource, obj))
    except _Ambiguous:
        return None


def record(resource: Resource, item: bytes) -> Record | None:
    """One Job or Pod object (JSON bytes) as a record; None when it needs the dict path."""
    try:
        return _record(resource, _ITEMS[resource].decode(item))
    except (msgspec.DecodeError, _Ambiguous):
        return None


def page(resource: Resource, body: bytes) -> Page | None:
    """A LIST page of Jobs or Pods: records, except that an item the typed decoder rejects is
    handed back as its JSON value (`orjson.loads` of that item) for the dict path. None when
    the page itself needs the dict path (not JSON, not a List, a mistyped `metadata`)."""
    decoder = _PAGES.get(resource)
    if decoder is None:
        return None
    try:
        decoded = decoder.decode(body)
        items: list[Record | Any] = [_record(resource, item) for item in decoded.items]
    except (msgspec.DecodeError, _Ambiguous):
        try:
            decoded = _RAW_PAGE.decode(body)
        except msgspec.DecodeError:
            return None
        items = [_item(resource, raw) for raw in decoded.items]
    meta = decoded.metadata
    return Page(items, meta.token or "", meta.resourceVersion or "")


def _item(resource: Resource, raw: msgspec.Raw) -> Record | Any:
    item = bytes(memoryview(raw))
    found = record(resource, item)
    if found is not None:
        return found
    try:
        return orjson.loads(item)  # what the dict path reads
    except orjson.JSONDecodeError:
        return None
