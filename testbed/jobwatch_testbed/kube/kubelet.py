"""The scripted kubelet on a real API server: the sim's pod scripts, written through the API.

There is no kubelet and no container runtime here, so this plays the kubelet's part the way
the real one talks to the API server, and nothing more:

* `register_node()` creates the Node `NODE` (Ready); no node-lifecycle controller runs, so
  it needs no lease;
* binding a pod to it is `POST pods/<name>/binding` (the scheduler's write; there is no
  scheduler either);
* every status change a script makes (`jobwatch_testbed.sim.kubelet.PodHandle`: container states, exit
  codes, restartCount, conditions, the derived phase) is one JSON merge patch of
  `pods/<name>/status`;
* a deleted pod gets its containers stopped and a terminal phase, then the kubelet confirms the
  deletion with `DELETE gracePeriodSeconds=0`; nothing else would.

It never writes a Job: the real Job controller decides everything about Jobs.

`ApiPods` is the `PodBackend` the sim's `PodHandle` and `Kubelet` run on. Its view of a pod is
the latest object the watch (or a write's answer) returned, with the status the kubelet last
decided on top, so scripts read their own writes at once, as they do on the sim. Writes go out
in order per pod on one task each.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any

from jobwatch_testbed.kube.api import Api, ApiError, Obj
from jobwatch_testbed.sim.clock import rfc3339, utcnow
from jobwatch_testbed.sim.kubelet import HOST_IP, NODE

log = logging.getLogger(__name__)
Key = tuple[str, str]
_GONE = object()


def merge_diff(old: Any, new: Any) -> Any:
    """The RFC 7386 JSON merge patch turning `old` into `new` (lists are replaced whole)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: Obj = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_diff(old[key], value)
    return patch


def _rv(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


def _pod_path(namespace: str, name: str, sub: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}{sub}"


class ApiPods:
    """PodBackend over the API server (see the module docstring)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.server: dict[Key, Obj] = {}
        self.local: dict[Key, Obj] = {}
        self.gone: set[Key] = set()
        self._queues: dict[Key, asyncio.Queue[tuple[str, Any]]] = {}
        self._writers: dict[Key, asyncio.Task[None]] = {}
        self.errors: list[str] = []
        """Writes the API server refused (other than for a pod already gone)."""

    # ------------------------------------------------------------------ watch input
    def observe(self, event: str, pod: Obj) -> None:
        """Feed a pod watch event (or a write's answer)."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        if event == "DELETED":
            current = self.server.get(key)
            if current is None or current["metadata"].get("uid") == meta.get("uid"):
                self.gone.add(key)
            return
        current = self.server.get(key)
        if current is not None and current["metadata"].get("uid") != meta.get("uid"):
            self.local.pop(key, None)  # same name, new pod
            self.gone.discard(key)
        elif current is not None and _rv(current) > _rv(pod):
            return
        self.server[key] = pod

    # ------------------------------------------------------------------ PodBackend
    def get(self, namespace: str, name: str) -> Obj | None:
        key = (namespace, name)
        server = self.server.get(key)
        if server is None or key in self.gone:
            return None
        view = copy.deepcopy(server)
        local = self.local.get(key)
        if local is not None:
            view["status"] = copy.deepcopy(local["status"])
            if local.get("nodeName"):
                view["spec"]["nodeName"] = local["nodeName"]
        return view

    def update(self, namespace: str, name: str, apply: Callable[[Obj], None]) -> None:
        view = self.get(namespace, name)
        if view is None:
            return
        bound_before = view["spec"].get("nodeName")
        apply(view)
        node = view["spec"].get("nodeName")
        key = (namespace, name)
        self.local[key] = {"status": copy.deepcopy(view["status"]), "nodeName": node}
        if node and node != bound_before:
            self._enqueue(key, "bind", node)
        self._enqueue(key, "status", copy.deepcopy(view["status"]))

    def delete(self, namespace: str, name: str, grace_period_seconds: int) -> None:
        if self.get(namespace, name) is not None:
            self._enqueue((namespace, name), "delete", grace_period_seconds)

    # ------------------------------------------------------------------ writes
    def _enqueue(self, key: Key, op: str, arg: Any) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._writers[key] = asyncio.create_task(
                self._write(key, queue), name=f"kubelet-write:{key[1]}"
            )
        queue.put_nowait((op, arg))

    async def drain(self) -> None:
        """Wait until every queued write went out."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def _write(self, key: Key, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        namespace, name = key
        while True:
            op, arg = await queue.get()
            try:
                if key not in self.gone:
                    await self._apply(namespace, name, op, arg)
            except ApiError as exc:
                if exc.status == 404:
                    self.gone.add(key)
                else:
                    self.errors.append(str(exc))
                    log.warning("kubelet write refused: %s", exc)
            except Exception as exc:  # a broken connection: record, carry on with the next
                self.errors.append(f"{op} {namespace}/{name}: {exc!r}")
            finally:
                queue.task_done()

    async def _apply(self, namespace: str, name: str, op: str, arg: Any) -> None:
        server = self.server[(namespace, name)]
        uid = server["metadata"]["uid"]
        if op == "bind":
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "uid": uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": arg},
            }
            await self.api.request("POST", _pod_path(namespace, name, "/binding"), binding)
        elif op == "status":
            patch = merge_diff(server.get("status") or {}, arg)
            if patch:
                body = {"metadata": {"uid": uid}, "status": patch}
                answer = await self.api.request(
                    "PATCH",
                    _pod_path(namespace, name, "/status"),
                    body,
                    "application/merge-patch+json",
                )
                self.observe("MODIFIED", answer)
        elif op == "delete":
            body = {"gracePeriodSeconds": arg, "preconditions": {"uid": uid}}
            status, answer = await self.api.call("DELETE", _pod_path(namespace, name), body)
            if status == 404:
                self.gone.add((namespace, name))
            elif status >= 300:
                raise ApiError(status, (answer or {}).get("message", "delete failed"))
            elif isinstance(answer, dict) and answer.get("kind") == "Pod":
                self.observe("MODIFIED", answer)

    async def close(self) -> None:
        for task in self._writers.values():
            task.cancel()
        for task in self._writers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._writers.clear()
        self._queues.clear()


async def register_node(api: Api, name: str = NODE) -> Obj:
    """The Node the scripted kubelet runs pods on, Ready with some capacity."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
    }
    status, _ = await api.call("POST", "/api/v1/nodes", node)
    if status not in (201, 409):
        raise ApiError(status, f"registering Node {name}")
    now = rfc3339(utcnow())
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    node_status = {
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": HOST_IP}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status (scripted kubelet)",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "nodeInfo": {
                "kubeletVersion": "scripted",
                "containerRuntimeVersion": "none://",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": "",
                "osImage": "",
                "kubeProxyVersion": "",
            },
        }
    }
    answer: Obj = await api.request(
        "PATCH", f"/api/v1/nodes/{name}/status", node_status, "application/merge-patch+json"
    )
    return answer
