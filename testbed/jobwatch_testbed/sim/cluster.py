"""What a scenario may do to a cluster, so one scenario plays on the sim and on a real one.

A scenario's `play(cluster, scenario)` only creates objects, writes status the way a
controller we do not run would (the CronJob's), runs Jobs with a kubelet script per pod and
waits. `SimCluster` does it on the sim's store with the sim's Job controller;
`jobwatch_testbed.kube.scenarios.KubeCluster` does it on a real API server, where the real Job
controller decides and a scripted kubelet plays the pods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from jobwatch_testbed.sim.controller import Env, JobController, ScriptFor
from jobwatch_testbed.sim.store import JOBS, Obj, ObjList, Resource
from jobwatch_testbed.sim.timing import SimTime


class View(Protocol):
    """Read access for `Scenario.settled` (the sim's Store has exactly this shape)."""

    def try_get(self, resource: Resource, namespace: str, name: str) -> Obj | None: ...

    def list(self, resource: Resource, namespace: str | None = None) -> tuple[ObjList, int]: ...


class Cluster(Protocol):
    time: SimTime

    async def create(self, resource: Resource, obj: Obj) -> Obj:
        """Create an object (the server defaults it); returns it as stored."""
        ...

    async def update_status(
        self, resource: Resource, namespace: str, name: str, mutate: Callable[[Obj], None]
    ) -> Obj:
        """Write an object's status with `mutate(obj)` (for a controller that is not running)."""
        ...

    async def run_job(self, job: Obj, scripts: ScriptFor) -> Obj:
        """Drive a created Job: each new pod gets `scripts(attempt, index)`; returns the Job
        once it is Complete or Failed (never, for a Job that stalls)."""
        ...

    async def pause(self, seconds: float) -> None:
        """Idle scenario time nothing is waiting on (between CronJob runs). The sim waits it;
        a real cluster shortens it, because real controllers run in real time."""
        ...


class SimCluster:
    """Cluster on the sim: the store and `JobController`."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.time = env.time

    async def create(self, resource: Resource, obj: Obj) -> Obj:
        return self.env.store.create(resource, obj)

    async def update_status(
        self, resource: Resource, namespace: str, name: str, mutate: Callable[[Obj], None]
    ) -> Obj:
        return self.env.store.update(resource, namespace, name, mutate)

    async def run_job(self, job: Obj, scripts: ScriptFor) -> Obj:
        meta = job["metadata"]
        return await JobController(self.env, meta["namespace"], meta["name"], scripts).run()

    async def pause(self, seconds: float) -> None:
        await self.time.sleep(seconds)


async def create_and_run(cluster: Cluster, job: Obj, scripts: ScriptFor) -> Obj:
    return await cluster.run_job(await cluster.create(JOBS, job), scripts)
