"""Server-side printing (`meta.k8s.io/v1` Table), so `kubectl get` shows the usual columns.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; without it kubectl falls back
to NAME/AGE. The pod columns follow the API server's `printPod` at v1.37.2 (docs/job-semantics.md
§5.1), written here a second time on raw dicts so the sim stays independent of the exporter;
tests/kube compares both with the real API server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobwatch_testbed.sim.clock import parse_rfc3339
from jobwatch_testbed.sim.store import CRONJOBS, JOBS, Obj, Resource

Column = tuple[str, str, str]  # name, type, format

COLUMNS: dict[str, list[Column]] = {
    "pods": [
        ("Name", "string", "name"),
        ("Ready", "string", ""),
        ("Status", "string", ""),
        ("Restarts", "string", ""),
        ("Age", "string", ""),
    ],
    "jobs": [
        ("Name", "string", "name"),
        ("Status", "string", ""),
        ("Completions", "string", ""),
        ("Duration", "string", ""),
        ("Age", "string", ""),
    ],
    "cronjobs": [
        ("Name", "string", "name"),
        ("Schedule", "string", ""),
        ("Suspend", "boolean", ""),
        ("Active", "integer", ""),
        ("Last Schedule", "string", ""),
        ("Age", "string", ""),
    ],
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """Like k8s.io/apimachinery duration.HumanDuration (coarse)."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    return human_duration((now - parse_rfc3339(stamp)).total_seconds())


def _terminated_text(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _condition_true(status: Obj, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _finished_at(cs: Obj) -> str:
    return str(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")


def pod_columns(pod: Obj) -> tuple[str, str, int, str]:
    """printPod (printers.go, v1.37.2; docs/job-semantics.md §5.1): READY, STATUS, the restart
    count and the finish time of the last restart it shows."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last_restart = ""
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = max(last_restart, _finished_at(cs))
        sidecar = cs.get("name") in sidecars
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last_restart = max(sidecar_last_restart, _finished_at(cs))
        state = cs.get("state") or {}
        term = state.get("terminated")
        waiting = (state.get("waiting") or {}).get("reason") or ""
        if term is not None and term.get("exitCode") == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += bool(cs.get("ready"))
            continue
        if term is not None:
            reason = _terminated_text(term, "Init:")
        elif waiting and waiting != "PodInitializing":
            reason = "Init:" + waiting
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last_restart
        has_running = False
        error_reason = ""
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = max(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = str(state["waiting"]["reason"])
            elif (term := state.get("terminated")) is not None:
                reason = _terminated_text(term)
                if term.get("exitCode") != 0:
                    error_reason = reason
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed":
            if has_running and _condition_true(status, "Ready"):
                reason = "Running"
            elif error_reason:
                reason = error_reason
            elif has_running:
                reason = "NotReady"
    deleting = "deletionTimestamp" in (pod.get("metadata") or {})
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return f"{ready}/{total}", reason, restarts, last_restart


def pod_status_text(pod: Obj) -> str:
    """kubectl's STATUS column for a pod."""
    return pod_columns(pod)[1]


def _job_status(job: Obj) -> str:
    conds = {
        c["type"] for c in job.get("status", {}).get("conditions", []) if c["status"] == "True"
    }
    for ctype in ("Complete", "Failed"):
        if ctype in conds:
            return ctype
    if "deletionTimestamp" in job["metadata"]:
        return "Terminating"
    for ctype in ("SuccessCriteriaMet", "FailureTarget", "Suspended"):
        if ctype in conds:
            return ctype
    return "Running"


def _cells(resource: Resource, obj: Obj, now: datetime) -> list[Any]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    age = _since(meta.get("creationTimestamp"), now)
    if resource == JOBS:
        completions = spec.get("completions")
        done = f"{status.get('succeeded', 0)}/{completions if completions is not None else 1}"
        start = status.get("startTime")
        end = status.get("completionTime")
        duration = ""
        if start:
            finish = parse_rfc3339(end) if end else now
            duration = human_duration((finish - parse_rfc3339(start)).total_seconds())
        return [meta["name"], _job_status(obj), done, duration, age]
    if resource == CRONJOBS:
        return [
            meta["name"],
            spec.get("schedule", ""),
            bool(spec.get("suspend", False)),
            len(status.get("active") or []),
            _since(status.get("lastScheduleTime"), now),
            age,
        ]
    ready, text, restarts, last_restart = pod_columns(obj)
    shown = str(restarts)
    if restarts and last_restart:
        shown = f"{restarts} ({_since(last_restart, now)} ago)"
    return [meta["name"], ready, text, shown, age]


def table(resource: Resource, items: list[Obj], list_meta: Obj, now: datetime) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {"name": name, "type": ctype, "format": fmt, "description": name, "priority": 0}
            for name, ctype, fmt in COLUMNS[resource.plural]
        ],
        "rows": [
            {
                "cells": _cells(resource, obj, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for obj in items
        ],
    }
