"""The sim's scenarios on the real control plane: `KubeCluster`, the `Cluster` of a real API server.

    async with KubeCluster(control_plane) as cluster:   # registers the Node, starts watches
        await scenario.play(cluster, scenario)          # any jobwatch_testbed.sim.scenarios scenario
        scenario.settled(cluster.mirror, scenario)      # the same telling-state predicates

Jobs are created through the API and the real Job controller runs them. Each pod the
controller creates for a Job that `run_job` drives gets the kubelet script the scenario chose
for it, `scripts(attempt, index)`: attempts are counted per Job (per index for Indexed Jobs) in
creation order, as the sim's controller counts them. The scripted kubelet
(`jobwatch_testbed.kube.kubelet`) then writes the pod's status; nothing here writes a Job.

What runs in real time: everything. The controller's pod-recreation backoff (10 s doubling),
activeDeadlineSeconds, grace periods and the kubelet's CrashLoopBackOff waits take their real
seconds. The only compression: `pause()` (idle time between CronJob runs that nothing waits
on) is cut to `PAUSE_CAP` seconds, and the CronJob is created suspended, because the scenario
plays the CronJob controller itself (three runs a minute apart would take three minutes) and
the real CronJob controller must not start runs of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from jobwatch_testbed.kube.api import Api, ApiError, cancel
from jobwatch_testbed.kube.controlplane import ControlPlane
from jobwatch_testbed.kube.kubelet import ApiPods, register_node
from jobwatch_testbed.sim.controller import ScriptFor
from jobwatch_testbed.sim.kubelet import Kubelet
from jobwatch_testbed.sim.objects import COMPLETION_INDEX
from jobwatch_testbed.sim.player import select
from jobwatch_testbed.sim.store import CRONJOBS, JOBS, PODS, Obj, ObjList, Resource
from jobwatch_testbed.sim.timing import SimTime

PAUSE_CAP = 2.0
Listener = Callable[[Resource, str, Obj, float], None]
"""(resource, event type, object, wall-clock seconds) for every watch event."""


def resource_path(resource: Resource, namespace: str | None = None, name: str = "") -> str:
    base = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    path = (
        f"{base}/namespaces/{namespace}/{resource.plural}"
        if namespace
        else f"{base}/{resource.plural}"
    )
    return f"{path}/{name}" if name else path


class Mirror:
    """What the watches have seen: the `View` that `Scenario.settled` reads."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}

    def observe(self, resource: Resource, event: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (resource.plural, meta.get("namespace", ""), meta["name"])
        if event == "DELETED":
            if (old := self.objects.get(key)) is not None and old["metadata"]["uid"] == meta["uid"]:
                del self.objects[key]
            return
        self.objects[key] = obj

    def try_get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        return self.objects.get((resource.plural, namespace, name))

    def list(self, resource: Resource, namespace: str | None = None) -> tuple[ObjList, int]:
        items = [
            o
            for (plural, ns, _), o in sorted(self.objects.items())
            if plural == resource.plural and (namespace is None or ns == namespace)
        ]
        return items, 0


@dataclass
class _Run:
    scripts: ScriptFor
    attempts: int = 0
    index_attempts: dict[int, int] = field(default_factory=dict)

    def next_script(self, pod: Obj) -> Any:
        raw = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
        index = int(raw) if raw is not None else None
        if index is None:
            attempt = self.attempts
            self.attempts += 1
        else:
            attempt = self.index_attempts.get(index, 0)
            self.index_attempts[index] = attempt + 1
        return self.scripts(attempt, index)


def _controller_uid(pod: Obj) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            uid: str = ref["uid"]
            return uid
    return None


def _finished(job: Obj | None) -> bool:
    conds = (job or {}).get("status", {}).get("conditions") or []
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds)


class KubeCluster:
    """`jobwatch_testbed.sim.cluster.Cluster` on a real control plane (see the module docstring)."""

    def __init__(self, control_plane: ControlPlane, speed: float = 1.0) -> None:
        self.control_plane = control_plane
        self.time = SimTime(speed)
        self.api = Api(control_plane.url, control_plane.ssl_context())
        self.kubelet_api = Api(control_plane.url, control_plane.ssl_context())
        """The scripted kubelet's own connection: its `writes` show it never touched a Job."""
        self.pods = ApiPods(self.kubelet_api)
        self.kubelet = Kubelet(self.pods, self.time)
        self.mirror = Mirror()
        self.listeners: list[Listener] = []
        self._runs: dict[str, _Run] = {}
        self._launched: set[str] = set()
        self._namespaces: set[str] = set()
        self._watches: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        await self.api.__aenter__()
        await self.kubelet_api.__aenter__()
        try:
            await register_node(self.kubelet_api)
            for resource in (JOBS, PODS, CRONJOBS):
                synced = asyncio.Event()
                task = asyncio.create_task(
                    self.api.watch(resource_path(resource), self._on(resource), synced),
                    name=f"watch:{resource.plural}",
                )
                self._watches.append(task)
                await asyncio.wait_for(synced.wait(), 30)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await cancel(*self._watches, *self.kubelet.tasks)
        self._watches.clear()
        await self.pods.close()
        await self.kubelet_api.__aexit__()
        await self.api.__aexit__()

    # ------------------------------------------------------------------ watch events
    def _on(self, resource: Resource) -> Callable[[str, Obj], None]:
        def handle(event: str, obj: Obj) -> None:
            now = time.time()
            self.mirror.observe(resource, event, obj)
            if resource is PODS:
                self.pods.observe(event, obj)
                if event == "ADDED":
                    self._maybe_launch(obj)
            for listener in self.listeners:
                listener(resource, event, obj, now)

        return handle

    def _maybe_launch(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = _controller_uid(pod)
        if uid is None or uid not in self._runs or meta["uid"] in self._launched:
            return
        if "deletionTimestamp" in meta:
            return
        self._launched.add(meta["uid"])
        script = self._runs[uid].next_script(pod)
        self.kubelet.launch(meta["namespace"], meta["name"], script)

    # ------------------------------------------------------------------ Cluster
    async def ensure_namespace(self, namespace: str) -> None:
        """Create the namespace and wait for its `default` ServiceAccount (pods need it)."""
        if namespace in self._namespaces:
            return
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        status, _ = await self.api.call("POST", "/api/v1/namespaces", body)
        if status not in (201, 409):
            raise ApiError(status, f"creating namespace {namespace}")
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        for _ in range(300):
            status, _ = await self.api.call("GET", path)
            if status == 200:
                self._namespaces.add(namespace)
                return
            await asyncio.sleep(0.1)
        raise ApiError(status, f"no default ServiceAccount in {namespace}")

    async def create(self, resource: Resource, obj: Obj) -> Obj:
        namespace = obj["metadata"]["namespace"]
        await self.ensure_namespace(namespace)
        body = {k: v for k, v in obj.items() if k != "status"}
        if resource is CRONJOBS:
            body = {**body, "spec": {**body["spec"], "suspend": True}}  # see module docstring
        created: Obj = await self.api.request("POST", resource_path(resource, namespace), body)
        self.mirror.observe(resource, "ADDED", created)
        return created

    async def update_status(
        self, resource: Resource, namespace: str, name: str, mutate: Callable[[Obj], None]
    ) -> Obj:
        path = resource_path(resource, namespace, name)
        for _ in range(10):
            current: Obj = await self.api.request("GET", path)
            current.setdefault("status", {})
            mutate(current)
            status, answer = await self.api.call("PUT", f"{path}/status", current)
            if status == 409:
                continue
            if status >= 300:
                raise ApiError(status, f"PUT {path}/status: {(answer or {}).get('message')}")
            self.mirror.observe(resource, "MODIFIED", answer)
            result: Obj = answer
            return result
        raise ApiError(409, f"PUT {path}/status kept conflicting")

    async def run_job(self, job: Obj, scripts: ScriptFor) -> Obj:
        meta = job["metadata"]
        self._runs[meta["uid"]] = _Run(scripts)
        pods, _ = self.mirror.list(PODS, meta["namespace"])
        for pod in pods:  # created before we registered
            self._maybe_launch(pod)
        while True:
            current = self.mirror.try_get(JOBS, meta["namespace"], meta["name"])
            if current is None:
                return {}
            if _finished(current):
                return current
            await asyncio.sleep(0.1)

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, PAUSE_CAP))


class KubePlayer:
    """The scenario player of the real control plane (what `ScenarioPlayer` is to the sim):
    `run(names)` plays them, sets `all_settled` once each is in its telling state, then keeps
    them as they are (stalls stay stalled) until cancelled."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.all_settled = asyncio.Event()

    async def run(self, names: Sequence[str] | None = None) -> None:
        scenarios = select(names)
        tasks = [
            asyncio.create_task(s.play(self.cluster, s), name=f"kube-scenario:{s.name}")
            for s in scenarios
        ]
        try:
            while not all(s.settled(self.cluster.mirror, s) for s in scenarios):
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        task.result()
                await asyncio.sleep(0.2)
            self.all_settled.set()
            await asyncio.Event().wait()
        finally:
            await cancel(*tasks)
