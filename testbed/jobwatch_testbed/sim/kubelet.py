"""The kubelet half of the simulation: container states, restarts and the pod phase.

A pod's life is a *script*: an async function `script(pod: PodHandle) -> None` that calls
`pod.schedule()`, `pod.start()`, `pod.exit("c", 1)`, `pod.crash_loop(...)`, `pod.waiting(...)`…
`Kubelet.launch(namespace, name, script)` runs it and, like the real kubelet, reacts to the pod's
deletion: the script is cancelled, running containers are stopped (143 when the process honours
SIGTERM, 137 after the grace period otherwise) and the pod gets a terminal phase (v1.27+).

The phase is always derived from the container statuses by `derive_phase` (docs/job-semantics.md §1.1,
`pkg/kubelet/kubelet_pods.go getPhase`): Never → Failed when all regular containers stopped and
one failed, or a regular init container failed; OnFailure → a failed container is restarted in
place and the pod stays Running (Pending in init); native sidecars (init containers with
`restartPolicy: Always`) never decide the phase; waiting without `lastState` keeps it Pending.
`containerStatuses` are sorted by name, as the kubelet sorts them (§5.1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from jobwatch_testbed.sim.objects import condition, container_id, image_id
from jobwatch_testbed.sim.store import PODS, Obj, Store
from jobwatch_testbed.sim.timing import SimTime

Script = Callable[["PodHandle"], Awaitable[None]]
NODE = "sim-worker-1"
HOST_IP = "172.18.0.3"
EPOCH = "1970-01-01T00:00:00Z"
# CrashLoopBackOff (§3.2): first restart immediate, then 10 s doubling, capped at 300 s.
CRASHLOOP_INITIAL = 10.0
CRASHLOOP_MAX = 300.0
CONFIRM_DELAY = 1.5
"""Seconds between a deleted pod's terminal status and the kubelet's DELETE with grace 0
(longer than the sim controller's 1 s sync period, so that state is seen)."""


def crashloop_delay(restarts_so_far: int) -> float:
    """Kubelet back-off before the next restart, given restarts already done (§3.2)."""
    if restarts_so_far == 0:
        return 0.0
    return float(min(CRASHLOOP_INITIAL * 2.0 ** (restarts_so_far - 1), CRASHLOOP_MAX))


def _is_sidecar(spec_container: Obj) -> bool:
    return spec_container.get("restartPolicy") == "Always"


def _terminated(cs: Obj) -> Obj | None:
    t: Obj | None = (cs.get("state") or {}).get("terminated")
    return t


def derive_phase(pod: Obj) -> str:
    """The pod phase the kubelet computes from container statuses (§1.1)."""
    spec, status = pod["spec"], pod.get("status", {})
    if status.get("reason") == "Evicted":
        return "Failed"
    policy = spec.get("restartPolicy", "Always")
    deleting = "deletionTimestamp" in pod["metadata"]
    init_specs = {c["name"]: c for c in spec.get("initContainers", [])}
    init_statuses = status.get("initContainerStatuses") or []
    statuses = status.get("containerStatuses") or []
    if not spec.get("nodeName"):
        return "Failed" if deleting else "Pending"
    for cs in init_statuses:
        if _is_sidecar(init_specs.get(cs["name"], {})):
            continue
        term = _terminated(cs)
        if term is not None and term.get("exitCode") == 0:
            continue
        if term is not None and policy == "Never":
            return "Failed"  # failedInitialization > 0 && RestartPolicy == Never
        return "Failed" if deleting else "Pending"
    running = waiting = stopped = succeeded = 0
    for cs in statuses:
        state = cs.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif (cs.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if not statuses or (len(statuses) < len(spec.get("containers", []))):
        return "Failed" if deleting else "Pending"
    if deleting and running == 0:
        return "Succeeded" if stopped == succeeded == len(statuses) else "Failed"
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if policy == "Never" or deleting:
        return "Succeeded" if stopped == succeeded else "Failed"
    return "Succeeded" if stopped == succeeded else "Running"


def _refresh_conditions(pod: Obj, now: str) -> None:
    """Initialized / Ready / ContainersReady / PodScheduled, as the kubelet writes them."""
    spec, status = pod["spec"], pod["status"]
    phase = status["phase"]
    old = {c["type"]: c for c in status.get("conditions", [])}

    def put(ctype: str, value: str, reason: str = "", message: str = "") -> Obj:
        previous = old.get(ctype)
        since = now
        if previous is not None and previous["status"] == value:
            since = previous["lastTransitionTime"]
        return condition(ctype, value, since, reason, message)

    regular_init = [c["name"] for c in spec.get("initContainers", []) if not _is_sidecar(c)]
    init_done = {
        cs["name"]
        for cs in status.get("initContainerStatuses") or []
        if (_terminated(cs) or {}).get("exitCode") == 0
    }
    pending_init = [n for n in regular_init if n not in init_done]
    statuses = status.get("containerStatuses") or []
    unready = [cs["name"] for cs in statuses if not cs.get("ready")]
    if not statuses:
        unready = [c["name"] for c in spec.get("containers", [])]
    terminal_reason = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(phase, "")
    conditions: list[Obj] = []
    if "DisruptionTarget" in old:
        conditions.append(old["DisruptionTarget"])
    if spec.get("nodeName"):
        if pending_init and phase not in ("Succeeded", "Failed"):
            names = " ".join(pending_init)
            init = put(
                "Initialized",
                "False",
                "ContainersNotInitialized",
                f"containers with incomplete status: [{names}]",
            )
        else:
            init = put("Initialized", "True", "PodCompleted" if phase == "Succeeded" else "")
        conditions.append(init)
        if terminal_reason:
            ready = [put(t, "False", terminal_reason) for t in ("Ready", "ContainersReady")]
        elif unready:
            msg = f"containers with unready status: [{' '.join(unready)}]"
            ready = [
                put(t, "False", "ContainersNotReady", msg) for t in ("Ready", "ContainersReady")
            ]
        else:
            ready = [put(t, "True") for t in ("Ready", "ContainersReady")]
        conditions.extend(ready)
    if "PodScheduled" in old:
        conditions.append(old["PodScheduled"])
    status["conditions"] = conditions


class PodBackend(Protocol):
    """Where a kubelet reads and writes pods: the sim's store (`StorePods`) or a real API
    server (`jobwatch_testbed.kube.kubelet.ApiPods`). The same scripts drive both."""

    def get(self, namespace: str, name: str) -> Obj | None:
        """The pod as the kubelet knows it (None once it is gone)."""
        ...

    def update(self, namespace: str, name: str, apply: Callable[[Obj], None]) -> None:
        """`apply` mutates the pod's status (and `spec.nodeName` when binding); persist it."""
        ...

    def delete(self, namespace: str, name: str, grace_period_seconds: int) -> None: ...


class StorePods:
    """PodBackend on the sim's store: every update is one committed write (one watch event)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, namespace: str, name: str) -> Obj | None:
        return self.store.try_get(PODS, namespace, name)

    def update(self, namespace: str, name: str, apply: Callable[[Obj], None]) -> None:
        self.store.update(PODS, namespace, name, apply)

    def delete(self, namespace: str, name: str, grace_period_seconds: int) -> None:
        self.store.delete(PODS, namespace, name, grace_period_seconds=grace_period_seconds)


def pod_backend(pods: PodBackend | Store) -> PodBackend:
    return StorePods(pods) if isinstance(pods, Store) else pods


class PodHandle:
    """Kubelet-side writer for one pod. Every method is one status update (one watch event)."""

    def __init__(self, pods: PodBackend | Store, time: SimTime, namespace: str, name: str) -> None:
        self.pods, self.time = pod_backend(pods), time
        self.namespace, self.name = namespace, name
        self.sigterm_exit = 143
        """Exit code of a running container stopped by deletion; 137 models a process that
        ignores SIGTERM and is killed after the grace period."""

    def obj(self) -> Obj | None:
        return self.pods.get(self.namespace, self.name)

    def update(self, mutate: Callable[[Obj], None]) -> None:
        if self.obj() is None:
            return
        now = self.time.stamp()

        def apply(pod: Obj) -> None:
            pod.setdefault("status", {})
            mutate(pod)
            pod["status"]["phase"] = derive_phase(pod)
            _refresh_conditions(pod, now)

        self.pods.update(self.namespace, self.name, apply)

    # ------------------------------------------------------------------ statuses
    def _spec_container(self, pod: Obj, name: str) -> tuple[Obj, str]:
        for c in pod["spec"].get("initContainers", []):
            if c["name"] == name:
                return c, "initContainerStatuses"
        for c in pod["spec"]["containers"]:
            if c["name"] == name:
                return c, "containerStatuses"
        raise KeyError(name)

    def _status(self, pod: Obj, name: str) -> Obj:
        spec_c, field = self._spec_container(pod, name)
        statuses: list[Obj] = pod["status"].setdefault(field, [])
        for cs in statuses:
            if cs["name"] == name:
                return cs
        cs = {
            "name": name,
            "image": spec_c["image"],
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": False,
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
        }
        statuses.append(cs)
        if field == "containerStatuses":
            statuses.sort(key=lambda s: s["name"])
        else:
            order = [c["name"] for c in pod["spec"].get("initContainers", [])]
            statuses.sort(key=lambda s: order.index(s["name"]))
        return cs

    def _run(self, pod: Obj, name: str, now: str) -> None:
        cs = self._status(pod, name)
        cid = container_id(f"{pod['metadata']['uid']}/{name}/{cs['restartCount']}")
        cs.update(
            imageID=image_id(cs["image"]),
            containerID=cid,
            ready=True,
            started=True,
            state={"running": {"startedAt": now}},
        )

    def schedule(self, node: str = NODE) -> None:
        """Bound by the scheduler; containers are being created (PodScheduled=True)."""
        now = self.time.stamp()

        def bind(pod: Obj) -> None:
            pod["spec"]["nodeName"] = node
            st = pod["status"]
            st["conditions"] = [condition("PodScheduled", "True", now)]
            st.update(hostIP=HOST_IP, hostIPs=[{"ip": HOST_IP}], startTime=now)
            init = pod["spec"].get("initContainers", [])
            for i, c in enumerate(init):
                cs = self._status(pod, c["name"])
                if i > 0:
                    cs["state"] = {"waiting": {"reason": "PodInitializing"}}
            for c in pod["spec"]["containers"]:
                cs = self._status(pod, c["name"])
                if init:
                    cs["state"] = {"waiting": {"reason": "PodInitializing"}}

        self.update(bind)

    def unschedulable(self, message: str) -> None:
        now = self.time.stamp()

        def mark(pod: Obj) -> None:
            pod["status"]["conditions"] = [
                condition("PodScheduled", "False", now, "Unschedulable", message)
            ]

        self.update(mark)

    def start(self, *names: str) -> None:
        """Containers (all regular ones by default) are running and ready."""
        now = self.time.stamp()

        def run(pod: Obj) -> None:
            todo = names or tuple(c["name"] for c in pod["spec"]["containers"])
            for name in todo:
                self._run(pod, name, now)
            if pod["status"].get("phase") == "Pending" and "podIP" not in pod["status"]:
                ip = f"10.244.1.{sum(pod['metadata']['uid'].encode()) % 250 + 2}"
                pod["status"].update(podIP=ip, podIPs=[{"ip": ip}])

        self.update(run)

    def exit(self, name: str, code: int, reason: str | None = None) -> None:
        """The container's process ended (reason Completed/Error unless given, e.g. OOMKilled)."""
        self.exits({name: (code, reason)})

    def exits(self, codes: dict[str, tuple[int, str | None]]) -> None:
        """Several containers end in one status update: {name: (exit code, reason or None)}."""
        now = self.time.stamp()

        def stop(pod: Obj) -> None:
            for name, (code, reason) in sorted(codes.items()):
                self._terminate(self._status(pod, name), code, reason, None, now)

        self.update(stop)

    def delete(self, grace_period_seconds: int = 30) -> None:
        """Someone (a user, `kubectl delete pod`) deletes the pod."""
        self.pods.delete(self.namespace, self.name, grace_period_seconds)

    @staticmethod
    def _terminate(cs: Obj, code: int, reason: str | None, message: str | None, now: str) -> None:
        running = (cs.get("state") or {}).get("running") or {}
        term: Obj = {
            "exitCode": code,
            "reason": reason or ("Completed" if code == 0 else "Error"),
            "startedAt": running.get("startedAt", now),
            "finishedAt": now,
            "containerID": cs.get("containerID", ""),
        }
        if message:
            term["message"] = message
        cs.update(ready=False, started=False, state={"terminated": term})

    def start_error(self, name: str, binary: str) -> None:
        """containerd could not exec the entrypoint: StartError, exit 128, startedAt epoch."""
        now = self.time.stamp()
        message = (
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            "failed: runc create failed: unable to start container process: exec: "
            f'"{binary}": executable file not found in $PATH: unknown'
        )

        def fail(pod: Obj) -> None:
            cs = self._status(pod, name)
            cid = container_id(f"{pod['metadata']['uid']}/{name}/{cs['restartCount']}")
            cs.update(imageID=image_id(cs["image"]), containerID=cid)
            term = {
                "exitCode": 128,
                "reason": "StartError",
                "message": message,
                "startedAt": EPOCH,
                "finishedAt": now,
                "containerID": cid,
            }
            cs.update(ready=False, started=False, state={"terminated": term})

        self.update(fail)

    def waiting(self, name: str, reason: str, message: str) -> None:
        """Container waiting (ImagePullBackOff, CreateContainerConfigError, …)."""

        def wait(pod: Obj) -> None:
            cs = self._status(pod, name)
            cs.update(
                ready=False,
                started=False,
                state={"waiting": {"reason": reason, "message": message}},
            )

        self.update(wait)

    def back_off(self, name: str, delay: float) -> None:
        """After a failed run under OnFailure: CrashLoopBackOff, last run in lastState."""

        def wait(pod: Obj) -> None:
            cs = self._status(pod, name)
            term = _terminated(cs)
            if term is not None:
                cs["lastState"] = {"terminated": term}
            pod_ref = f"{pod['metadata']['name']}_{pod['metadata']['namespace']}"
            message = (
                f"back-off {int(delay)}s restarting failed container={name} "
                f"pod={pod_ref}({pod['metadata']['uid']})"
            )
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}

        self.update(wait)

    def restart(self, name: str) -> None:
        """The kubelet restarts the container in place (restartCount + 1)."""
        now = self.time.stamp()

        def again(pod: Obj) -> None:
            cs = self._status(pod, name)
            term = _terminated(cs)
            if term is not None:
                cs["lastState"] = {"terminated": term}
            cs["restartCount"] += 1
            self._run(pod, name, now)

        self.update(again)

    def evict(self, reason: str, message: str) -> None:
        """Node-pressure eviction by the kubelet: DisruptionTarget, containers killed, Failed."""
        now = self.time.stamp()

        def kill(pod: Obj) -> None:
            st = pod["status"]
            st["conditions"] = [
                condition("DisruptionTarget", "True", now, reason, message),
                *st.get("conditions", []),
            ]
            for field in ("initContainerStatuses", "containerStatuses"):
                for cs in st.get(field) or []:
                    if "running" in (cs.get("state") or {}):
                        self._terminate(cs, 137, "Error", None, now)
            st.update(reason="Evicted", message=message)

        self.update(kill)

    # ------------------------------------------------------------------ script building blocks
    async def run_to_exit(self, exits: dict[str, tuple[int, str | None]], seconds: float) -> None:
        """Schedule, run all containers `seconds`, then each exits with (code, reason)."""
        self.schedule()
        await self.time.sleep(0.5)
        self.start()
        await self.time.sleep(seconds)
        self.exits(exits)

    async def crash_loop(
        self, name: str, runs: list[tuple[int, str | None]], seconds: float
    ) -> None:
        """OnFailure: each run lasts `seconds` and exits with the given (code, reason); between
        failed runs the kubelet backs off (§3.2). Stops after the last run (exit 0 → done)."""
        for restarts, (code, reason) in enumerate(runs):
            if restarts > 0:
                delay = crashloop_delay(restarts - 1)
                if delay > 0:
                    self.back_off(name, delay)
                    await self.time.sleep(delay)
                self.restart(name)
            await self.time.sleep(seconds)
            self.exit(name, code, reason)
            if code == 0:
                return

    async def stop_for_deletion(self) -> None:
        """Deleted pod: SIGTERM, wait (grace if ignored), terminal phase, then confirm removal."""
        pod = self.obj()
        if pod is None:
            return
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        await self.time.sleep(grace if self.sigterm_exit == 137 else min(grace, 1.0))
        now = self.time.stamp()

        def stop(pod: Obj) -> None:
            for field in ("initContainerStatuses", "containerStatuses"):
                for cs in pod["status"].get(field) or []:
                    state = cs.get("state") or {}
                    if "running" in state:
                        self._terminate(cs, self.sigterm_exit, "Error", None, now)
                    elif "waiting" in state and (cs.get("lastState") or {}).get("terminated"):
                        cs["state"] = {"terminated": cs["lastState"]["terminated"]}
                        cs["lastState"] = {}

        self.update(stop)
        # The status manager confirms the deletion on a later sync: the Job controller sees
        # the terminal pod (terminating 0) before the pod goes, as it does on a real cluster.
        await self.time.sleep(CONFIRM_DELAY)
        if self.obj() is not None:
            # Confirm with grace 0 (kubelet status manager); the object goes once the Job
            # controller has dropped its tracking finalizer.
            self.pods.delete(self.namespace, self.name, 0)


class Kubelet:
    """Runs pod scripts and handles deletion for every pod it launched."""

    def __init__(self, pods: PodBackend | Store, time: SimTime, tick: float = 0.5) -> None:
        self.pods, self.time, self.tick = pod_backend(pods), time, tick
        self.tasks: set[asyncio.Task[Any]] = set()

    def launch(self, namespace: str, name: str, script: Script) -> None:
        handle = PodHandle(self.pods, self.time, namespace, name)
        task = asyncio.create_task(self._supervise(handle, script), name=f"kubelet:{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _supervise(self, pod: PodHandle, script: Script) -> None:
        async def play() -> None:
            await script(pod)

        main = asyncio.create_task(play())
        try:
            while True:
                await self.time.poll(self.tick)
                obj = pod.obj()
                if obj is None:
                    return
                if "deletionTimestamp" in obj["metadata"]:
                    main.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await main
                    await pod.stop_for_deletion()
                    return
                if main.done():
                    main.result()  # surface script errors
                    if obj["status"].get("phase") in ("Succeeded", "Failed"):
                        return
        finally:
            main.cancel()
