"""In-memory object store with resourceVersions and a bounded watch history (etcd + watch cache).

    store = Store(history_size=10_000)
    job = store.create(JOBS, {"metadata": {"name": "x", "namespace": "ns"}, "spec": ...})
    store.update(JOBS, "ns", "x", lambda o: o["status"].update(active=1))   # Python-side edit
    store.patch(JOBS, "ns", "x", {"metadata": {"labels": {"a": "b"}}}, MERGE)
    store.delete(PODS, "ns", "p", grace_period_seconds=30)
    items, rv = store.list(JOBS, "ns")              # current state and its resourceVersion
    items = store.list_at(JOBS, rv)     # state as of an older rv (pages); 410 if compacted
    view = store.view(JOBS, rv)         # the same as a sorted View: objects, keys, JSON bytes
    events = store.events_since(rv)                 # watch resume; 410 if compacted
    queue = store.subscribe(); store.unsubscribe(queue)   # live events, None = server restart
    store.compact(); store.reset_resource_version(start=1)

Every committed object is a fresh dict that is never mutated afterwards, so events and snapshots
share it safely. It is serialised once, when it is committed (`item_bytes`: the JSON of a List
item), and events carry those bytes (`Event.data`, `Event.old_data`), so the server writes LIST
pages and watch lines by joining bytes instead of encoding 100k objects per LIST. Each change bumps one global resourceVersion counter (a string in objects, an
int here) and produces exactly one `Event`. Objects get `uid`, `resourceVersion`,
`creationTimestamp` and `generation` (bumped when `spec` changes).

Deletion follows the API server: an object with finalizers gets `deletionTimestamp` and
`deletionGracePeriodSeconds` (MODIFIED) and is removed (DELETED) only when its last finalizer
goes. A bound (`spec.nodeName`), non-terminal pod deleted with a grace period also stays until
the kubelet confirms (terminal phase, or a delete with grace 0). Anything else is removed at
once. Jobs are defaulted like the API server does (selector, labels, spec defaults), and a
Job whose pod restartPolicy is not OnFailure/Never is rejected with 422 (docs/job-semantics.md §1.17).
Cascading deletion (propagationPolicy Background/Foreground) deletes dependents by
ownerReference uid; Orphan or no policy removes the ownerReference from dependents.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from jobwatch_testbed.sim.clock import Clock, rfc3339, utcnow
from jobwatch_testbed.sim.patch import PatchError, apply_patch

Obj = dict[str, Any]
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"


@dataclass(frozen=True)
class Resource:
    """One served resource type."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`jobs.batch` / `pods`, as used in Status messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def typed(self, item: bytes) -> bytes:
        """A List item's bytes (`item_bytes`) as the whole object, with apiVersion and kind
        (what GET and watch events carry)."""
        head = b'{"apiVersion":"%s","kind":"%s"' % (self.api_version.encode(), self.kind.encode())
        return head + (b"," + item[1:] if len(item) > 2 else b"}")


_TYPE_KEYS = frozenset(("apiVersion", "kind"))


def item_bytes(obj: dict[str, Any]) -> bytes:
    """An object's JSON as a List item: without apiVersion and kind, as the real server lists it."""
    return orjson.dumps({k: v for k, v in obj.items() if k not in _TYPE_KEYS})


PODS = Resource("", "v1", "pods", "Pod")
JOBS = Resource("batch", "v1", "jobs", "Job")
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob")
RESOURCES: dict[str, Resource] = {r.plural: r for r in (PODS, JOBS, CRONJOBS)}


class ApiError(Exception):
    """An error the API server reports as a `Status` object."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You must start a new list without the continue parameter."
)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{resource.qualified} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def invalid(resource: Resource, name: str, field_path: str, message: str) -> ApiError:
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {field_path}: {message}',
        {
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [{"reason": "FieldValueRequired", "message": message, "field": field_path}],
        },
    )


@dataclass
class Event:
    """One change. `object` is the new state (the final state for DELETED), `old` the previous;
    `data` and `old_data` are their `item_bytes`."""

    type: str
    resource: Resource
    object: Obj
    old: Obj | None
    rv: int
    data: bytes = field(default=b"", repr=False, compare=False)
    old_data: bytes | None = field(default=None, repr=False, compare=False)
    cache: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)


EventList = list[Event]
Key = tuple[str, str, str]  # plural, namespace, name
ObjList = list[Obj]
Keys = list[str]  # "namespace/name" per object, in key order
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
SNAPSHOTS = 8  # rolled-back views kept, so every page of a paged LIST reuses its snapshot


@dataclass(frozen=True)
class View:
    """One resource's objects at one resourceVersion, in key order: the objects, their
    "namespace/name" keys and their `item_bytes`, index for index. Never mutated (shared)."""

    items: ObjList
    keys: Keys
    data: list[bytes]

    def namespace(self, namespace: str | None) -> View:
        """The objects of one namespace (all for None), by bisection."""
        if namespace is None:
            return self
        low = bisect.bisect_left(self.keys, f"{namespace}/")
        high = bisect.bisect_left(self.keys, f"{namespace}0")  # "0" sorts right after "/"
        return View(self.items[low:high], self.keys[low:high], self.data[low:high])


def _view(entries: dict[Key, tuple[Obj, bytes]]) -> View:
    """The View of one resource's (object, bytes) by store key: sorted by (namespace, name)."""
    order = sorted(entries)
    return View(
        [entries[k][0] for k in order],
        [f"{k[1]}/{k[2]}" for k in order],
        [entries[k][1] for k in order],
    )


def _key(resource: Resource, namespace: str, name: str) -> Key:
    return (resource.plural, namespace, name)


class Store:
    """The objects, the resourceVersion counter, the bounded event history and the subscribers."""

    def __init__(
        self,
        *,
        history_size: int = 10_000,
        clock: Clock = utcnow,
        start_rv: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self._objects: dict[Key, Obj] = {}
        self._data: dict[Key, bytes] = {}  # item_bytes of each current object
        self._rv = start_rv
        self._history: deque[Event] = deque()
        self._history_size = history_size
        self._compacted_rv = start_rv
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self.epoch = 0
        self._random = random.Random(seed)  # generateName suffixes
        self._propagation: dict[str, str] = {}  # owner uid -> propagationPolicy at delete time
        # Per resource: the rv of its last change, and its View as of that rv, so a paged LIST
        # of an unchanged resource neither rescans nor re-sorts the store per page; views rolled
        # back to an older rv (a paged LIST while the resource changes) are kept by (plural, rv).
        self._changed_at: dict[str, int] = {}
        self._sorted: dict[str, tuple[int, View]] = {}
        self._snapshots: OrderedDict[tuple[str, int], View] = OrderedDict()

    # ------------------------------------------------------------------ reading
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        """Resume points older than this are gone (410 Expired)."""
        return self._compacted_rv

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        obj = self._objects.get(_key(resource, namespace, name))
        if obj is None:
            raise not_found(resource, name)
        return obj

    def try_get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        return self._objects.get(_key(resource, namespace, name))

    def data(self, resource: Resource, namespace: str, name: str) -> bytes:
        """The current object's `item_bytes` (404 if there is none)."""
        data = self._data.get(_key(resource, namespace, name))
        if data is None:
            raise not_found(resource, name)
        return data

    def list(self, resource: Resource, namespace: str | None = None) -> tuple[ObjList, int]:
        """Current objects sorted by namespace/name (etcd key order), and the current rv."""
        return list(self.current(resource).namespace(namespace).items), self._rv

    def current(self, resource: Resource) -> View:
        """Every current object of `resource`, in key order; cached until the resource changes."""
        changed = self._changed_at.get(resource.plural, -1)
        cached = self._sorted.get(resource.plural)
        if cached is None or cached[0] != changed:
            plural = resource.plural
            entries = {k: (o, self._data[k]) for k, o in self._objects.items() if k[0] == plural}
            cached = (changed, _view(entries))
            self._sorted[plural] = cached
        return cached[1]

    def view(self, resource: Resource, rv: int, *, continuing: bool = False) -> View:
        """The objects of `resource` as they were at `rv`; 410 if compacted past `rv` (with the
        API server's continue-token message when `continuing`). A view rolled back through the
        history is built once per rv and kept, so the later pages of a LIST reuse it."""
        self.require(rv, CONTINUE_EXPIRED if continuing else None)
        if self._changed_at.get(resource.plural, -1) <= rv:
            return self.current(resource)
        key = (resource.plural, rv)
        cached = self._snapshots.get(key)
        if cached is not None:
            self._snapshots.move_to_end(key)
            return cached
        state = {k: (o, self._data[k]) for k, o in self._objects.items() if k[0] == resource.plural}
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            if event.resource != resource:
                continue
            meta = event.object["metadata"]
            at = _key(resource, meta.get("namespace", ""), meta["name"])
            if event.type == "ADDED":
                state.pop(at, None)
            elif event.old is not None:
                state[at] = (event.old, event.old_data or item_bytes(event.old))
        view = _view(state)
        self._snapshots[key] = view
        while len(self._snapshots) > SNAPSHOTS:
            self._snapshots.popitem(last=False)
        return view

    def list_at(
        self, resource: Resource, rv: int, namespace: str | None = None, *, continuing: bool = False
    ) -> ObjList:
        """The objects as they were at `rv` (rolls history back); 410 if compacted past `rv`
        (with the API server's continue-token message when `continuing`)."""
        return list(self.view(resource, rv, continuing=continuing).namespace(namespace).items)

    def require(self, rv: int, message: str | None = None) -> None:
        """410 Expired unless history from `rv` on is available (also after a reset)."""
        if rv < self._compacted_rv or rv > self._rv:
            raise expired(message or f"too old resource version: {rv} ({self._compacted_rv})")

    def events_since(self, rv: int) -> EventList:
        """Events with resourceVersion > rv; raises 410 Expired if some were compacted away."""
        self.require(rv)
        later: EventList = []
        for event in reversed(self._history):
            if event.rv <= rv:
                break
            later.append(event)
        later.reverse()
        return later

    def history(self) -> EventList:
        """The retained events, oldest first."""
        return list(self._history)

    # ------------------------------------------------------------------ watching
    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)

    # ------------------------------------------------------------------ writing
    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _emit(self, event: Event) -> None:
        self._changed_at[event.resource.plural] = event.rv
        self._history.append(event)
        while len(self._history) > self._history_size:
            self._compacted_rv = self._history.popleft().rv
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _stamp(self, obj: Obj, rv: int) -> None:
        obj["metadata"]["resourceVersion"] = str(rv)

    def create(self, resource: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        """POST semantics: name or generateName required, 409 if it exists. Status is kept."""
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        ns = meta.get("namespace") or namespace or "default"
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        meta["namespace"] = ns
        if not meta.get("name"):
            if meta.get("generateName"):
                suffix = "".join(self._random.choice(_NAME_CHARS) for _ in range(5))
                meta["name"] = meta["generateName"] + suffix
            else:
                raise invalid(
                    resource,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )
        key = _key(resource, ns, meta["name"])
        if key in self._objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource.qualified} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": resource.group, "kind": resource.plural},
            )
        new["apiVersion"] = resource.api_version
        new["kind"] = resource.kind
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(transient, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(self.clock())
        meta["generation"] = 1
        if resource == JOBS:
            from jobwatch_testbed.sim.objects import default_job, validate_job

            problem = validate_job(new)
            if problem is not None:
                path, message = problem.split(": ", 1)
                raise invalid(resource, meta["name"], path, message)
            default_job(new)
        rv = self._next_rv()
        self._stamp(new, rv)
        self._objects[key] = new
        data = self._data[key] = item_bytes(new)
        self._emit(Event("ADDED", resource, new, None, rv, data))
        return new

    def load(self, resource: Resource, objects: ObjList) -> None:
        """Insert complete objects (uid, names set) without events, as if listed from etcd:
        how benchmarks fill the store with 100k pods in seconds."""
        for obj in objects:
            meta = obj["metadata"]
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            self._stamp(obj, self._next_rv())
            key = _key(resource, meta["namespace"], meta["name"])
            self._objects[key] = obj
            self._data[key] = item_bytes(obj)
        self._changed_at[resource.plural] = self._rv
        self._compacted_rv = self._rv

    def _commit(self, resource: Resource, old: Obj, new: Obj, *, deleting: bool = False) -> Obj:
        """Store `new` as the successor of `old`; delete it if it was waiting for finalizers.
        Only a DELETE (`deleting`) may set or shorten the deletion timestamp and grace period."""
        old_meta, meta = old["metadata"], new["metadata"]
        for immutable in ("uid", "creationTimestamp", "name", "namespace"):
            meta[immutable] = old_meta[immutable]
        for immutable in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if immutable in old_meta and not deleting:
                meta[immutable] = old_meta[immutable]
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        meta["generation"] = old_meta.get("generation", 1) + (
            1 if new.get("spec") != old.get("spec") else 0
        )
        if "deletionTimestamp" in meta and not meta.get("finalizers") and not _awaits_kubelet(new):
            return self._remove(resource, old, new)
        rv = self._next_rv()
        self._stamp(new, rv)
        key = _key(resource, meta["namespace"], meta["name"])
        self._objects[key] = new
        old_data = self._data.get(key)
        data = self._data[key] = item_bytes(new)
        self._emit(Event("MODIFIED", resource, new, old, rv, data, old_data))
        return new

    def update(
        self, resource: Resource, namespace: str, name: str, mutate: Callable[[Obj], None]
    ) -> Obj:
        """Python-side read-modify-write of the whole object (status included). The copy to
        edit is decoded from the object's serialised bytes: 6x cheaper than a deepcopy, and
        the kubelet's and the LoadGenerator's status writes are nearly all of it."""
        old = self.get(resource, namespace, name)
        new = orjson.loads(self._data[_key(resource, namespace, name)])
        mutate(new)
        return self._commit(resource, old, new)

    def replace(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        obj: Obj,
        subresource: str | None = None,
    ) -> Obj:
        """PUT. On the main resource the status is kept; on `/status` only the status changes."""
        old = self.get(resource, namespace, name)
        wanted_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object '
                "has been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": resource.group, "kind": resource.plural},
            )
        return self._commit(resource, old, self._split_status(old, obj, subresource))

    def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        body: Any,
        *,
        content_type: str,
        subresource: str | None = None,
    ) -> Obj:
        old = self.get(resource, namespace, name)
        try:
            patched = apply_patch(old, body, content_type)
        except (PatchError, TypeError, AttributeError) as exc:
            raise ApiError(422, "Invalid", str(exc)) from exc
        return self._commit(resource, old, self._split_status(old, patched, subresource))

    @staticmethod
    def _split_status(old: Obj, new: Obj, subresource: str | None) -> Obj:
        if subresource == "status":
            result = copy.deepcopy(old)
            result["status"] = copy.deepcopy(new.get("status", {}))
            return result
        result = copy.deepcopy(new)
        result.setdefault("metadata", {})
        if "status" in old:
            result["status"] = copy.deepcopy(old["status"])
        else:
            result.pop("status", None)
        return result

    def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> tuple[Obj, bool]:
        """DELETE. Returns (object, removed_now). With finalizers, only marks it deleting."""
        old = self.get(resource, namespace, name)
        meta = old["metadata"]
        if propagation_policy is not None:
            self._propagation[meta["uid"]] = propagation_policy
        if resource == PODS and (
            not old.get("spec", {}).get("nodeName")
            or old.get("status", {}).get("phase") in ("Succeeded", "Failed")
        ):
            grace_period_seconds = 0  # CheckGracefulDelete: unscheduled or terminal pods go now
        if "deletionTimestamp" in meta:
            if grace_period_seconds == 0 and not meta.get("finalizers"):
                return self._remove(resource, old, old), True  # kubelet confirms
            if grace_period_seconds == 0 and meta.get("deletionGracePeriodSeconds"):
                shortened = copy.deepcopy(old)  # gone once the last finalizer is
                shortened["metadata"]["deletionGracePeriodSeconds"] = 0
                shortened["metadata"]["deletionTimestamp"] = rfc3339(self.clock())
                return self._commit(resource, old, shortened, deleting=True), False
            return old, False
        if grace_period_seconds is None:
            grace_period_seconds = (
                int(old.get("spec", {}).get("terminationGracePeriodSeconds", 30))
                if resource == PODS
                else 0
            )
        new = copy.deepcopy(old)
        now = self.clock()
        deletion = now + timedelta(seconds=grace_period_seconds)
        new["metadata"]["deletionTimestamp"] = rfc3339(deletion)
        new["metadata"]["deletionGracePeriodSeconds"] = grace_period_seconds
        result = self._commit(resource, old, new, deleting=True)
        return result, _key(resource, namespace, name) not in self._objects

    def _remove(self, resource: Resource, old: Obj, new: Obj) -> Obj:
        meta = new["metadata"]
        if new is old:
            new = copy.deepcopy(old)
        key = _key(resource, meta["namespace"], meta["name"])
        del self._objects[key]
        old_data = self._data.pop(key, None)
        rv = self._next_rv()
        self._stamp(new, rv)
        self._emit(Event("DELETED", resource, new, old, rv, item_bytes(new), old_data))
        self._collect_dependents(new)
        return new

    def _collect_dependents(self, owner: Obj) -> None:
        """Garbage collector: cascade or orphan the dependents of a removed owner."""
        uid = owner["metadata"]["uid"]
        policy = self._propagation.pop(uid, None)
        for (plural, ns, name), obj in list(self._objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs):
                continue
            resource = RESOURCES[plural]
            if policy in ("Background", "Foreground"):
                if JOB_TRACKING_FINALIZER in (obj["metadata"].get("finalizers") or []):
                    # The Job controller strips the tracking finalizer from pods whose Job is
                    # gone (§1.7, [JC] orphan pod cleanup), so they can be removed.
                    self.update(resource, ns, name, _drop_tracking_finalizer)
                if self.try_get(resource, ns, name) is not None:
                    self.delete(resource, ns, name, propagation_policy="Background")
            else:
                self.update(
                    resource,
                    ns,
                    name,
                    lambda o: o["metadata"].__setitem__(
                        "ownerReferences",
                        [r for r in o["metadata"]["ownerReferences"] if r.get("uid") != uid],
                    ),
                )

    # ------------------------------------------------------------------ faults
    def compact(self, rv: int | None = None) -> None:
        """Forget history up to `rv` (default: everything); older resume points get 410."""
        target = self._rv if rv is None else min(rv, self._rv)
        while self._history and self._history[0].rv <= target:
            self._history.popleft()
        self._compacted_rv = max(self._compacted_rv, target)

    def reset_resource_version(self, start: int = 1, *, keep_objects: bool = True) -> None:
        """Simulate an API server restored from a backup: the rv counter restarts at `start`,
        history is gone, watchers are disconnected. Objects are kept (re-stamped) or dropped."""
        self.epoch += 1
        self._history.clear()
        self._changed_at.clear()
        self._sorted.clear()
        self._snapshots.clear()
        self._rv = start - 1
        objects = self._objects if keep_objects else {}
        self._objects, self._data = {}, {}
        for key in sorted(objects):
            new = copy.deepcopy(objects[key])
            self._stamp(new, self._next_rv())
            self._objects[key] = new
            self._data[key] = item_bytes(new)
        self._compacted_rv = self._rv
        for queue in self._subscribers:
            queue.put_nowait(None)


def _awaits_kubelet(obj: Obj) -> bool:
    """A bound pod deleted with a grace period stays until the kubelet has stopped its
    containers and confirmed with a grace-0 DELETE, even once its phase is terminal (the API
    server removes an object without finalizers only at grace 0)."""
    return (
        obj.get("kind") == "Pod"
        and bool(obj.get("spec", {}).get("nodeName"))
        and int(obj["metadata"].get("deletionGracePeriodSeconds") or 0) > 0
    )


def _drop_tracking_finalizer(obj: Obj) -> None:
    meta = obj["metadata"]
    meta["finalizers"] = [f for f in meta.get("finalizers", []) if f != JOB_TRACKING_FINALIZER]


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])
