"""Load generator for benchmarks: many realistic Jobs and pods, and a steady MODIFIED rate.

    gen = LoadGenerator(sim.store, jobs=1000, pods_per_job=3, events_per_second=500)
    gen.populate()                 # creates the Jobs and running pods (ADDED/MODIFIED events)
    task = gen.start()             # asyncio.Task: MODIFIED events at the configured rate
    ...; task.cancel(); gen.emitted   # events emitted by the loop so far

    task = start_load(store, jobs=100, pods_per_job=2, events_per_second=200)  # both steps

Each MODIFIED event is a kubelet-style change of one pod: a running container crashes into
CrashLoopBackOff (lastState.terminated exit 1) or is restarted (restartCount + 1).
No controller runs, so the Jobs stay active (OnFailure, a very large backoffLimit).
The rate follows `clock` and the loop waits with `sleep`: pass a `VirtualClock`'s `now` and
`sleep` for a deterministic run.
"""

from __future__ import annotations

import asyncio
import gc
import random

import orjson

from jobwatch_testbed.sim.clock import Clock, utcnow
from jobwatch_testbed.sim.kubelet import PodHandle
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job
from jobwatch_testbed.sim.store import JOBS, PODS, Store
from jobwatch_testbed.sim.timing import SimTime, Sleep

TICK = 0.01  # seconds between emission batches


class LoadGenerator:
    def __init__(
        self,
        store: Store,
        *,
        jobs: int,
        pods_per_job: int,
        events_per_second: float,
        namespace: str = "load",
        namespaces: int = 1,
        seed: int = 0,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.jobs, self.pods_per_job = jobs, pods_per_job
        self.rate = events_per_second
        self.namespaces = (
            [namespace] if namespaces <= 1 else [f"{namespace}-{i}" for i in range(namespaces)]
        )
        self.rng = random.Random(seed)
        self.time = SimTime(1.0, clock, sleep)
        self.pods: list[PodHandle] = []
        self.emitted = 0

    def populate(self) -> None:
        for j in range(self.jobs):
            ns = self.namespaces[j % len(self.namespaces)]
            job = new_job(
                ns,
                f"load-{j:05d}",
                [container("worker", ["/bin/sh", "-c", "process --batch"])],
                restart_policy="OnFailure",
                backoffLimit=1_000_000,
                parallelism=self.pods_per_job,
                completions=self.pods_per_job,
            )
            created = self.store.create(JOBS, job)
            for _ in range(self.pods_per_job):
                pod = self.store.create(PODS, pod_for_job(created))
                handle = PodHandle(self.store, self.time, ns, pod["metadata"]["name"])
                handle.schedule()
                handle.start()
                self.pods.append(handle)
            self.store.update(
                JOBS,
                ns,
                created["metadata"]["name"],
                lambda o: o["status"].update(
                    startTime=self.time.stamp(),
                    active=self.pods_per_job,
                    ready=self.pods_per_job,
                    terminating=0,
                    uncountedTerminatedPods={},
                ),
            )

    def populate_cloned(self) -> None:
        """`populate` for large sizes: Job 0 and its pods are made the normal way, every other
        Job and pod is a copy of them with its own name and UIDs (`Store.load`, no events).
        The cyclic GC is paused meanwhile: the millions of new, long-lived containers would
        otherwise trigger full collections of a growing heap (3.6x the CPU at 100k pods)."""
        paused = gc.isenabled()
        gc.disable()
        try:
            self._populate_cloned()
        finally:
            if paused:
                gc.enable()

    def _populate_cloned(self) -> None:
        jobs, self.jobs = self.jobs, 1
        self.populate()
        self.jobs = jobs
        ns = self.namespaces[0]
        job = self.store.get(JOBS, ns, "load-00000")
        pods = [p.obj() for p in self.pods]
        job_text = orjson.dumps(job).decode()
        pod_texts = [orjson.dumps(p).decode() for p in pods if p is not None]
        job_uid = job["metadata"]["uid"]
        new_jobs, new_pods = [], []
        for j in range(1, jobs):
            name, uid = f"load-{j:05d}", f"{j:08d}-0000-4000-8000-{self.rng.getrandbits(48):012x}"
            new_jobs.append(
                orjson.loads(job_text.replace(job_uid, uid).replace("load-00000", name))
            )
            for k, text in enumerate(pod_texts):
                pod_uid = f"{j:08d}-{k:04d}-4000-9000-{self.rng.getrandbits(48):012x}"
                old_uid = pods[k]["metadata"]["uid"]  # type: ignore[index]
                clone = text.replace(old_uid, pod_uid).replace(job_uid, uid)
                new_pods.append(orjson.loads(clone.replace("load-00000", name)))
        self.store.load(JOBS, new_jobs)
        self.store.load(PODS, new_pods)
        self.pods += [PodHandle(self.store, self.time, ns, p["metadata"]["name"]) for p in new_pods]

    def step(self) -> None:
        """One MODIFIED event: crash a running container or restart a crashed one."""
        pod = self.rng.choice(self.pods)
        obj = pod.obj()
        if obj is None:
            return
        cs = obj["status"]["containerStatuses"][0]
        if "running" in cs["state"]:
            pod.exit("worker", 1)
        elif "terminated" in cs["state"]:
            pod.back_off("worker", 10)
        else:
            pod.restart("worker")
        self.emitted += 1

    async def run(self) -> None:
        started = self.time.now()
        while True:
            elapsed = (self.time.now() - started).total_seconds()
            due = int(elapsed * self.rate) - self.emitted
            for _ in range(max(0, due)):
                self.step()
            await self.time.sleep(TICK)

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.run(), name="jobwatch-sim-load")


def start_load(
    store: Store,
    *,
    jobs: int,
    pods_per_job: int,
    events_per_second: float,
    namespace: str = "load",
) -> asyncio.Task[None]:
    """Populate the store, then emit MODIFIED events at `events_per_second` until cancelled."""
    generator = LoadGenerator(
        store,
        jobs=jobs,
        pods_per_job=pods_per_job,
        events_per_second=events_per_second,
        namespace=namespace,
    )
    generator.populate()
    return generator.start()
