"""Test doubles and a harness for the informer tests: the real SimServer over HTTP, the real
kubernetes_asyncio client (loaded through `cluster.connect`), a recording Sink with Replace
semantics and a recording Telemetry. (Not a conftest: other exporter tests share this folder.)"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient

from jobwatch.cluster import Informer, connect
from jobwatch.settings import Settings, settings
from jobwatch.sink import Problem, Raw, Resource, Result, Verb
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job
from jobwatch_testbed.sim.selectors import parse_label_selector
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, PODS, Obj

RESOURCES = {"jobs": JOBS, "pods": PODS}
CONVERGE_TIMEOUT = 10.0
# Small, fast and reproducible defaults for informers under test.
FAST: dict[str, Any] = {"idle_timeout": 5.0, "backoff_initial": 0.01, "backoff_max": 0.05}


def _uid(obj: Raw) -> str | None:
    meta = obj.get("metadata")
    uid = meta.get("uid") if isinstance(meta, dict) else None
    return uid if isinstance(uid, str) else None


def _in(obj: Raw, scope: str | None) -> bool:
    return scope is None or obj["metadata"].get("namespace") == scope


class RecordingSink:
    """A dict per resource keyed by uid; `replace` drops everything else in its scope."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Raw]] = {"jobs": {}, "pods": {}}
        self.replaced: list[tuple[str, str | None, int]] = []
        self.applied: Counter[tuple[str, str]] = Counter()
        self.malformed = 0
        self.pages: dict[tuple[str, str | None], list[Raw]] = {}
        self.page_sizes: list[int] = []

    def takes_records(self, resource: str) -> bool:
        return False  # raw dicts: the recorder compares resourceVersions with the sim's

    def replace(self, resource: str, scope: str | None, objects: Sequence[Any]) -> int:
        current = self.objects[resource]
        before = {u: o for u, o in current.items() if _in(o, scope)}
        for held in before:
            del current[held]
        for obj in objects:
            uid = _uid(obj)
            if uid is None:
                self.malformed += 1
            else:
                current[uid] = obj
        self.replaced.append((resource, scope, len(objects)))
        after = {u: o for u, o in current.items() if _in(o, scope)}
        return sum(before.get(u) != after.get(u) for u in before.keys() | after.keys())

    def list_started(self, resource: str, scope: str | None) -> None:
        self.pages[resource, scope] = []

    def list_page(self, resource: str, scope: str | None, objects: Sequence[Any]) -> None:
        self.pages[resource, scope].extend(objects)
        self.page_sizes.append(len(objects))

    def list_done(self, resource: str, scope: str | None) -> int:
        return self.replace(resource, scope, self.pages.pop((resource, scope)))

    def apply(self, resource: str, event_type: str, obj: Any) -> None:
        self.applied[resource, event_type] += 1
        uid = _uid(obj)
        if uid is None:
            self.malformed += 1
        elif event_type == "DELETED":
            self.objects[resource].pop(uid, None)
        else:
            self.objects[resource][uid] = obj

    def state(self, resource: str) -> dict[str, str]:
        return {uid: o["metadata"]["resourceVersion"] for uid, o in self.objects[resource].items()}


@dataclass
class RecordingTelemetry:
    """Everything an informer reports; `on_request` lets a test act between two requests."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    relists: Counter[str] = field(default_factory=Counter)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    heartbeats: list[tuple[str, float]] = field(default_factory=list)
    syncs: list[tuple[str, str | None]] = field(default_factory=list)
    parse_errors: Counter[str] = field(default_factory=Counter)
    tolerant: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str | None, Problem | None]] = field(default_factory=list)
    drift: Counter[str] = field(default_factory=Counter)
    on_request: Callable[[str, str, str], None] | None = None

    def request(self, resource: str, verb: Verb, result: Result) -> None:
        self.requests[resource, verb, result] += 1
        if self.on_request is not None:
            self.on_request(resource, verb, result)

    def relisted(self, resource: str) -> None:
        self.relists[resource] += 1

    def event(self, resource: str, event_type: str) -> None:
        self.events[resource, event_type] += 1

    def heartbeat(self, resource: str, at: float) -> None:
        self.heartbeats.append((resource, at))

    def synced(self, resource: str, scope: str | None) -> None:
        self.syncs.append((resource, scope))

    def parse_error(self, resource: str) -> None:
        self.parse_errors[resource] += 1

    def tolerant_decodes(self, resource: str, objects: int) -> None:
        self.tolerant[resource] += objects

    def unavailable(self, resource: str, scope: str | None, problem: Problem | None) -> None:
        self.problems.append((resource, scope, problem))

    def drifted(self, resource: str, differences: int) -> None:
        self.drift[resource] += differences


def truth(
    sim: SimServer, resource: str, namespaces: Sequence[str] = (), selector: str = ""
) -> dict[str, str]:
    """{uid: resourceVersion} of what the sim holds and the informers should mirror."""
    matches = parse_label_selector(selector)
    items, _ = sim.store.list(RESOURCES[resource])
    return {
        o["metadata"]["uid"]: o["metadata"]["resourceVersion"]
        for o in items
        if matches(o) and (not namespaces or o["metadata"]["namespace"] in namespaces)
    }


def simple_job(namespace: str, name: str, labels: dict[str, str] | None = None) -> Obj:
    job = new_job(namespace, name, [container("c", ["sh", "-c", "exit 0"])])
    if labels:
        job["metadata"]["labels"] = labels
    return job


def add_jobs(sim: SimServer, namespace: str, count: int, prefix: str = "job") -> list[Obj]:
    return [
        sim.store.create(JOBS, simple_job(namespace, f"{prefix}-{i:04d}")) for i in range(count)
    ]


def add_pod(sim: SimServer, job: Obj) -> Obj:
    return sim.store.create(PODS, pod_for_job(job))


def open_watches(sim: SimServer) -> int:
    """Watch streams the sim is serving right now."""
    return len(sim.faults._drop_listeners)


@dataclass
class Harness:
    """A running sim, a connected client, the recorders and the informer tasks under test."""

    sim: SimServer
    api: ApiClient
    kubeconfig: Path
    sink: RecordingSink = field(default_factory=RecordingSink)
    telemetry: RecordingTelemetry = field(default_factory=RecordingTelemetry)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def informer(
        self, resource: Resource, scope: str | None = None, selector: str = "", **options: Any
    ) -> Informer:
        kwargs = {**FAST, "rng": random.Random(7), **options}
        return Informer(self.api, resource, scope, selector, self.sink, self.telemetry, **kwargs)

    def start(self, *informers: Informer) -> None:
        self.tasks += [asyncio.create_task(i.run(), name=repr(i)) for i in informers]

    def settings(self, **overrides: Any) -> Settings:
        return settings(kubeconfig=str(self.kubeconfig), **overrides)

    def _check_alive(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled():
                raise AssertionError(f"informer {task.get_name()} stopped: {task.exception()!r}")

    async def until(self, condition: Callable[[], bool], within: float = CONVERGE_TIMEOUT) -> None:
        deadline = time.monotonic() + within
        while not condition():
            self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached in {within}s")
            await asyncio.sleep(0.01)

    async def watching(self, count: int = 1) -> None:
        """Wait until the sim serves `count` watch streams (so a fault hits an open one)."""
        await self.until(lambda: open_watches(self.sim) == count)

    async def converge(
        self, resource: str, namespaces: Sequence[str] = (), selector: str = ""
    ) -> dict[str, str]:
        """Wait (bounded) until the sink holds exactly the sim's objects at their rvs."""
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        while True:
            want = truth(self.sim, resource, namespaces, selector)
            have = self.sink.state(resource)
            if have == want:
                return want
            self._check_alive()
            if time.monotonic() > deadline:
                missing = len(want.keys() - have.keys())
                ghosts = len(have.keys() - want.keys())
                stale = sum(1 for u in want.keys() & have.keys() if want[u] != have[u])
                raise AssertionError(
                    f"{resource} did not converge in {CONVERGE_TIMEOUT}s: {missing} missing, "
                    f"{ghosts} ghosts, {stale} stale; telemetry {self.telemetry.requests}"
                )
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, **sim_options: Any) -> AsyncIterator[Harness]:
    async with SimServer(**sim_options) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        async with connect(settings(kubeconfig=str(kubeconfig))) as api:
            h = Harness(sim, api, kubeconfig)
            try:
                yield h
            finally:
                await h.stop()
