"""Printer vs real: `kubectl get pods` STATUS is the API server's server-side Table, printed by
the real `printPod` (docs/job-semantics.md §5.1). For every pod shape of tests/printer_shapes.py
and every distinct pod the sim's scenarios produce, the real Table cell must equal what jobwatch
says kubectl shows (`kubectl_status`, which decides `failed_pod_displayed_completed`) and what
the sim's own table printer shows.

Only the API server matters here: each pod is created, its status PATCHed as a kubelet would,
and (for the deletion shapes) deleted; a finalizer of ours keeps it readable after deletion,
and binding it to the scripted kubelet's Node keeps PodGC away from it. The Table is read with
`includeObject=Object`, so the three readers see the very object its row was printed from.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
import urllib.request
from typing import Any

import pytest

from jobwatch.analysis.kubectl import kubectl_status
from jobwatch.model import parse_pod
from jobwatch_testbed.kube.api import Api
from jobwatch_testbed.kube.controlplane import ControlPlane, ControlPlaneError
from jobwatch_testbed.kube.kubelet import register_node
from jobwatch_testbed.sim import PODS, ScenarioPlayer, Store
from jobwatch_testbed.sim.kubelet import NODE
from jobwatch_testbed.sim.tables import pod_columns
from tests.printer_shapes import SHAPES

Obj = dict[str, Any]
HOLD = "jobwatch.test/hold"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
SHAPES_NS = "printer-shapes"
SCENARIOS_NS = "printer-scenarios"


def _table(cp: ControlPlane, namespace: str) -> dict[str, tuple[list[str], Obj]]:
    """GET the namespace's pods as a meta.k8s.io Table, each row with its whole object, so the
    cells and the pod come from one read: name -> (cells, pod)."""
    url = f"{cp.url}/api/v1/namespaces/{namespace}/pods?includeObject=Object"
    req = urllib.request.Request(url)
    req.add_header("Accept", TABLE)
    with urllib.request.urlopen(req, timeout=30, context=cp.ssl_context()) as resp:
        table = json.loads(resp.read())
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]][:5]
    assert names == ["Name", "Ready", "Status", "Restarts", "Age"]
    return {row["cells"][0]: (row["cells"], row["object"]) for row in table["rows"]}


def _node(cp: ControlPlane) -> None:
    """The scripted kubelet's Node: pods bound to a Node that exists are left alone by PodGC,
    which would otherwise mark the deleted, unscheduled ones Failed after a while."""

    async def register() -> None:
        async with Api(cp.url, cp.ssl_context()) as api:
            await register_node(api)

    asyncio.run(register())


def _namespace(cp: ControlPlane, namespace: str) -> None:
    cp.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    for _ in range(300):  # pods need the ServiceAccount the controller creates
        try:
            cp.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
            return
        except ControlPlaneError:
            time.sleep(0.1)
    pytest.fail(f"no default ServiceAccount in {namespace}")


def _put_pod(cp: ControlPlane, namespace: str, name: str, pod: Obj) -> None:
    """Create the pod from its spec, write its status as the kubelet would, delete it if the
    shape is being deleted. Returns nothing: the Table and a GET read it back."""
    meta = pod["metadata"]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "finalizers": [HOLD],
            "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {},
        },
        "spec": {**pod["spec"], "nodeName": NODE},
    }
    base = f"/api/v1/namespaces/{namespace}/pods"
    cp.request("POST", base, body)
    patch = {"status": pod.get("status") or {}}
    cp.request("PATCH", f"{base}/{name}/status", patch, "application/merge-patch+json")
    if "deletionTimestamp" in meta:
        cp.request("DELETE", f"{base}/{name}", {"gracePeriodSeconds": 30})


def _shape_name(shape_id: str) -> str:
    return shape_id.replace("_", "-")[:50].rstrip("-") + "-" + _digest(shape_id)[:6]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


Table = dict[str, tuple[list[str], Obj]]


@pytest.fixture(scope="module")
def shapes_on_real(control_plane: ControlPlane) -> Table:
    _node(control_plane)
    _namespace(control_plane, SHAPES_NS)
    for shape in SHAPES:
        _put_pod(control_plane, SHAPES_NS, _shape_name(shape.id), shape.pod)
    return _table(control_plane, SHAPES_NS)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.id for s in SHAPES])
def test_shape_status_equals_the_real_table(shape: Any, shapes_on_real: Table) -> None:
    cells, real = shapes_on_real[_shape_name(shape.id)]
    assert cells[2] == shape.status  # the hand-derived expectation agrees with upstream
    assert kubectl_status(parse_pod(real)) == cells[2]
    ready, status, restarts, _ = pod_columns(real)
    assert (ready, status) == (cells[1], cells[2])
    assert str(restarts) == cells[3].split(" ")[0]


def _signature(pod: Obj) -> str:
    """What printPod reads, without names, times and ids: one real pod per distinct shape."""
    status = copy.deepcopy(pod.get("status") or {})
    for key in ("startTime", "hostIP", "hostIPs", "podIP", "podIPs", "qosClass"):
        status.pop(key, None)
    for cond in status.get("conditions") or []:
        cond.pop("lastTransitionTime", None)
        cond.pop("lastProbeTime", None)
        cond.pop("message", None)
    for field in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(field) or []:
            for key in ("containerID", "imageID", "image"):
                cs.pop(key, None)
            for state in (cs.get("state") or {}, cs.get("lastState") or {}):
                for detail in state.values():
                    if isinstance(detail, dict):
                        for key in ("startedAt", "finishedAt", "containerID", "message"):
                            detail.pop(key, None)
    spec = pod.get("spec") or {}
    shape = {
        "status": status,
        "deleting": "deletionTimestamp" in pod["metadata"],
        "init": [(c["name"], c.get("restartPolicy")) for c in spec.get("initContainers") or []],
        "containers": [c["name"] for c in spec.get("containers") or []],
    }
    return json.dumps(shape, sort_keys=True)


async def _scenario_pods() -> list[Obj]:
    """Every distinct pod state the sim's scenarios go through (each status update is one)."""
    store = Store(history_size=100_000)
    player = ScenarioPlayer(store, speed=1000)
    await asyncio.wait_for(player.run(until_settled=True), 120)
    seen: dict[str, Obj] = {}
    for event in store.history():
        if event.resource is PODS and event.type != "DELETED":
            seen.setdefault(_signature(event.object), event.object)
    return list(seen.values())


@pytest.fixture(scope="module")
def scenario_pods_on_real(control_plane: ControlPlane) -> tuple[Table, dict[str, Obj]]:
    _node(control_plane)
    _namespace(control_plane, SCENARIOS_NS)
    sim_pods = {f"scenario-pod-{i}": p for i, p in enumerate(asyncio.run(_scenario_pods()))}
    for name, pod in sim_pods.items():
        _put_pod(control_plane, SCENARIOS_NS, name, pod)
    return _table(control_plane, SCENARIOS_NS), sim_pods


def test_every_scenario_pod_shape_prints_as_the_real_table(
    scenario_pods_on_real: tuple[Table, dict[str, Obj]],
) -> None:
    table, sim = scenario_pods_on_real
    assert len(sim) >= 40, "the scenarios produce many distinct pod states"
    wrong = []
    for name, (cells, real) in sorted(table.items()):
        ours = kubectl_status(parse_pod(real))
        sims = pod_columns(sim[name])
        if (ours, sims[0], sims[1]) != (cells[2], cells[1], cells[2]):
            wrong.append(f"{name}: real {cells[1:3]}, jobwatch {ours}, sim {sims[:2]}")
    assert not wrong, "\n".join(wrong)
    assert {c[2] for c, _ in table.values()} >= {"Completed", "Error", "OOMKilled", "Running"}


def test_kubectl_get_pods_shows_the_table_cells(
    control_plane: ControlPlane, shapes_on_real: Table
) -> None:
    out = control_plane.kubectl("get", "pods", "-n", SHAPES_NS, "--no-headers")
    shown = {line.split()[0]: line.split()[2] for line in out.splitlines() if line.strip()}
    assert shown == {name: cells[2] for name, (cells, _) in shapes_on_real.items()}
