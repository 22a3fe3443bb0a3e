"""Server-side printing (`meta.k8s.io/v1` Table), so `kubectl get` shows the usual columns.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; without it kubectl falls back
to NAME/AGE. The pod STATUS column follows kubectl's `printPod`: container statuses are read
from last to first, so the alphabetically first container's reason wins — which is how a Failed
two-container pod shows `Completed` (spec §5, myth 3).
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


def pod_status_text(pod: Obj) -> str:
    """kubectl's STATUS column for a pod."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Unknown")
    init_specs = {c["name"]: c for c in pod.get("spec", {}).get("initContainers", [])}
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term is not None and term.get("exitCode") == 0:
            continue
        if init_specs.get(cs["name"], {}).get("restartPolicy") == "Always" and cs.get("started"):
            continue
        if term is not None:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason", "PodInitializing") != "PodInitializing":
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(
        c["type"] == "Initialized" and c["status"] == "True" for c in status.get("conditions", [])
    )
    if not initializing or initialized:
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (term := state.get("terminated")) is not None:
                reason = term.get("reason") or f"ExitCode:{term.get('exitCode')}"
            elif "running" in state and cs.get("ready"):
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if "deletionTimestamp" in pod["metadata"]:
        reason = "Terminating"
    return str(reason)


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
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    total = len(obj.get("spec", {}).get("containers", []))
    every = statuses + (status.get("initContainerStatuses") or [])
    restarts = sum(cs.get("restartCount", 0) for cs in every)
    return [meta["name"], f"{ready}/{total}", pod_status_text(obj), str(restarts), age]


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
