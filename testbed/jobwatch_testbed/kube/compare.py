"""Play scenarios on the sim and on the real control plane and record what the Jobs went through.

    sim = await run_on_sim(names)                 # VirtualClock: exact simulated seconds, fast
    real = await run_on_kube(control_plane, names)  # wall clock, real controllers
    differences(sim[ns], real[ns])                 # [] when the sim agrees with the real thing

A `Trace` per Job (in creation order within a scenario's namespace): every distinct Job status
`Summary` it passed through, and when each of its pods was created, in seconds since the Job
was created. Both backends get the same scripts of pod outcomes; only the Job controller
differs (the sim's model, or kube-controller-manager).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from jobwatch_testbed.kube.api import cancel
from jobwatch_testbed.kube.controlplane import ControlPlane
from jobwatch_testbed.kube.scenarios import KubeCluster, Listener
from jobwatch_testbed.sim.cluster import Cluster, View
from jobwatch_testbed.sim.objects import COMPLETION_INDEX
from jobwatch_testbed.sim.player import ScenarioPlayer, select
from jobwatch_testbed.sim.scenarios import Scenario
from jobwatch_testbed.sim.store import JOBS, PODS, Obj, Resource, Store
from jobwatch_testbed.sim.timing import VirtualClock

POD_TOLERANCE = 2.5
"""Seconds a replacement pod may be created earlier or later on one backend than on the other:
the real controller counts backoff from the container's finishedAt, which has whole-second
precision, and the sim's controller syncs once a second."""
SETTLE_EXTRA = 3.0
"""Scenario seconds both backends keep running after a scenario's telling state."""
TIMEOUT = 240.0


class Summary(NamedTuple):
    conditions: tuple[tuple[str, str, str], ...]
    failed: int
    succeeded: int
    active: int
    ready: int | None
    terminating: int | None
    completed_indexes: str
    failed_indexes: str | None

    @property
    def step(self) -> tuple[Any, ...]:
        """What every step must agree on. `active` and `ready` are compared in the final
        status only: the real controller batches pod updates for a second
        (syncJobBatchPeriod), so pods that start, get Ready or finish within about a second of
        each other may or may not show up as separate steps."""
        return self.conditions, self.failed, self.succeeded, self.terminating


def summarize(job: Obj) -> Summary:
    st = job.get("status") or {}
    conds = tuple((c["type"], c["status"], c.get("reason", "")) for c in st.get("conditions") or [])
    return Summary(
        conds,
        st.get("failed", 0),
        st.get("succeeded", 0),
        st.get("active", 0),
        st.get("ready"),
        st.get("terminating"),
        st.get("completedIndexes", ""),
        st.get("failedIndexes"),
    )


@dataclass
class Trace:
    name: str
    created: float
    states: list[Summary] = field(default_factory=list)
    pods: list[tuple[float, int | None]] = field(default_factory=list)
    """(seconds after the Job's creation, completion index) per pod, in creation order."""

    @property
    def final(self) -> Summary | None:
        return self.states[-1] if self.states else None


class Recorder:
    def __init__(self, namespaces: set[str]) -> None:
        self.namespaces = namespaces
        self.jobs: dict[str, Trace] = {}
        self.by_namespace: dict[str, list[Trace]] = {ns: [] for ns in namespaces}
        self._pods: set[str] = set()

    def __call__(self, resource: Resource, event: str, obj: Obj, now: float) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        if ns not in self.namespaces or event == "DELETED":
            return
        if resource == JOBS:
            trace = self.jobs.get(meta["uid"])
            if trace is None:
                trace = self.jobs[meta["uid"]] = Trace(meta["name"], now)
                self.by_namespace[ns].append(trace)
            summary = summarize(obj)
            if not trace.states or trace.states[-1] != summary:
                trace.states.append(summary)
        elif resource == PODS and meta["uid"] not in self._pods:
            owner = next(
                (r["uid"] for r in meta.get("ownerReferences") or [] if r.get("controller")), None
            )
            if owner in self.jobs:
                self._pods.add(meta["uid"])
                raw = (meta.get("annotations") or {}).get(COMPLETION_INDEX)
                index = int(raw) if raw is not None else None
                self.jobs[owner].pods.append((now - self.jobs[owner].created, index))


async def play_until_settled(
    cluster: Cluster,
    view: View,
    scenarios: Sequence[Scenario],
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> None:
    """Play all scenarios concurrently until each is in its telling state, plus SETTLE_EXTRA."""
    tasks = [asyncio.create_task(s.play(cluster, s), name=f"play:{s.name}") for s in scenarios]
    try:
        started = clock()
        while not all(s.settled(view, s) for s in scenarios):
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    task.result()
            if clock() - started > TIMEOUT:
                late = [s.name for s in scenarios if not s.settled(view, s)]
                raise TimeoutError(f"not settled after {TIMEOUT:.0f} s: {', '.join(late)}")
            await sleep(0.1)
        await sleep(SETTLE_EXTRA)
    finally:
        await cancel(*tasks)


async def run_on_sim(names: Sequence[str] | None = None) -> dict[str, list[Trace]]:
    scenarios = select(names)
    vc = VirtualClock(datetime.now(UTC).replace(microsecond=0))
    store = Store(clock=vc.now)
    recorder = Recorder({s.namespace for s in scenarios})
    queue = store.subscribe()

    async def consume() -> None:
        while True:
            event = await queue.get()
            if event is not None:
                recorder(event.resource, event.type, event.object, vc.now().timestamp())

    driver = asyncio.create_task(vc.drive())
    consumer = asyncio.create_task(consume())
    player = ScenarioPlayer(store, speed=1.0, clock=vc.now, sleep=vc.sleep)
    try:
        await play_until_settled(
            player.cluster, store, scenarios, vc.sleep, lambda: vc.now().timestamp()
        )
    finally:
        await player.stop()
        await cancel(consumer, driver)
        store.unsubscribe(queue)
    return recorder.by_namespace


@dataclass
class KubeRun:
    traces: dict[str, list[Trace]]
    kubelet_writes: list[tuple[str, str]]
    """(method, path) of every write the scripted kubelet made."""
    kubelet_errors: list[str]
    seconds: float


async def run_on_kube(
    control_plane: ControlPlane,
    names: Sequence[str] | None = None,
    listeners: Sequence[Listener] = (),
) -> KubeRun:
    """`listeners` also see every watch event of the run (tests/kube records jobwatch's
    verdicts on the same run, so the scenarios play once per session)."""
    scenarios = select(names)
    recorder = Recorder({s.namespace for s in scenarios})
    started = time.monotonic()
    async with KubeCluster(control_plane) as cluster:
        cluster.listeners.append(recorder)
        cluster.listeners.extend(listeners)
        await play_until_settled(cluster, cluster.mirror, scenarios, asyncio.sleep, time.time)
        with contextlib.suppress(Exception):
            await cluster.pods.drain()
        writes = list(cluster.kubelet_api.writes)
        errors = list(cluster.pods.errors)
    return KubeRun(recorder.by_namespace, writes, errors, time.monotonic() - started)


def _distinct(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def _subsequence(short: list[Any], long: list[Any]) -> bool:
    rest = iter(long)
    return all(any(x == y for y in rest) for x in short)


def steps_agree(a: list[Any], b: list[Any]) -> bool:
    """Equal, or one misses intermediate steps of the other: both controllers batch what
    happens within a second (the real one's syncJobBatchPeriod, the sim's 1 s sync), so two
    changes less than a second apart may land in one status update. A step one side never
    went through, or steps in another order, is a difference."""
    if a == b:
        return True
    if not a or not b or a[0] != b[0] or a[-1] != b[-1]:
        return False
    return _subsequence(a, b) or _subsequence(b, a)


def differences(sim: list[Trace], real: list[Trace]) -> list[str]:
    """What the sim's Jobs did that the real controller's did not (empty: they agree)."""
    if len(sim) != len(real):
        return [f"{len(sim)} Jobs on the sim, {len(real)} on the real control plane"]
    found: list[str] = []
    for n, (s, r) in enumerate(zip(sim, real, strict=True)):
        label = f"job #{n} ({r.name})"
        if s.final != r.final:
            found.append(f"{label} final status: sim {s.final} != real {r.final}")
        s_steps = _distinct([x.step for x in s.states])
        r_steps = _distinct([x.step for x in r.states])
        if not steps_agree(s_steps, r_steps):
            found.append(
                f"{label} (conditions, failed, succeeded, terminating) steps: "
                f"sim {s_steps} != real {r_steps}"
            )
        if len(s.pods) != len(r.pods):
            found.append(f"{label} pods created: sim {len(s.pods)} != real {len(r.pods)}")
            continue
        for (s_at, s_index), (r_at, r_index) in zip(
            sorted(s.pods, key=lambda p: (p[1] or 0, p[0])),
            sorted(r.pods, key=lambda p: (p[1] or 0, p[0])),
            strict=True,
        ):
            if s_index != r_index or abs(s_at - r_at) > POD_TOLERANCE:
                found.append(
                    f"{label} pod (index {r_index}) created at sim {s_at:.1f} s vs real {r_at:.1f} s"
                )
    return found
