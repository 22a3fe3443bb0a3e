"""Compact builders of raw, API-shaped Job and Pod dicts for table-driven tests.

Times are offsets in seconds from T0 so a test reads as a timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC)
T0_EPOCH = T0.timestamp()
JOB_UID = "11111111-2222-3333-4444-555555555555"
TRACKING = "batch.kubernetes.io/job-tracking"

Obj = dict[str, Any]


def at(offset: float) -> str:
    return (T0 + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cond(type_: str, status: str = "True", reason: str = "", at_: float = 0) -> Obj:
    out: Obj = {"type": type_, "status": status, "lastTransitionTime": at(at_)}
    if reason:
        out["reason"] = reason
    return out


def terminated(
    code: int, reason: str | None = None, finished: float = 5, started: float = 1
) -> Obj:
    if reason is None:
        reason = "Completed" if code == 0 else "Error"
    return {
        "terminated": {
            "exitCode": code,
            "reason": reason,
            "startedAt": at(started) if reason != "StartError" else "1970-01-01T00:00:00Z",
            "finishedAt": at(finished),
        }
    }


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, "message": message}}


def running(started: float = 1) -> Obj:
    return {"running": {"startedAt": at(started)}}


def ctr(
    name: str = "main",
    state: Obj | None = None,
    last: Obj | None = None,
    restarts: int = 0,
) -> Obj:
    return {
        "name": name,
        "image": "busybox:1.36",
        "ready": False,
        "restartCount": restarts,
        "state": state if state is not None else running(),
        "lastState": last or {},
    }


def pod(
    name: str = "p",
    *,
    phase: str = "Running",
    containers: list[Obj] | None = None,
    init: list[Obj] | None = None,
    sidecars: list[Obj] | None = None,
    restart_policy: str = "Never",
    conditions: list[Obj] | None = None,
    deleting: float | None = None,
    tracked: bool = True,
    index: int | None = None,
    index_failures: int | None = None,
    ignored_failures: int | None = None,
    reason: str | None = None,
    created: float = 0,
    uid: str | None = None,
    job_uid: str = JOB_UID,
    spec_containers: list[str] | None = None,
) -> Obj:
    """A Pod; `spec_containers` names the spec's containers when they differ from the statuses
    (a pod whose containers have no status yet)."""
    containers = containers if containers is not None else [ctr()]
    init = init or []
    sidecars = sidecars or []
    annotations: Obj = {}
    labels: Obj = {"batch.kubernetes.io/controller-uid": job_uid, "job-name": "j"}
    if index is not None:
        annotations["batch.kubernetes.io/job-completion-index"] = str(index)
        labels["batch.kubernetes.io/job-completion-index"] = str(index)
    if index_failures is not None:
        annotations["batch.kubernetes.io/job-index-failure-count"] = str(index_failures)
    if ignored_failures is not None:
        annotations["batch.kubernetes.io/job-index-ignored-failure-count"] = str(ignored_failures)
    meta: Obj = {
        "name": name,
        "namespace": "default",
        "uid": uid or f"uid-{name}",
        "creationTimestamp": at(created),
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": "j",
                "uid": job_uid,
                "controller": True,
            }
        ],
        "finalizers": [TRACKING] if tracked else [],
    }
    if deleting is not None:
        meta["deletionTimestamp"] = at(deleting)
        meta["deletionGracePeriodSeconds"] = 30
    status: Obj = {
        "phase": phase,
        "conditions": conditions or [],
        "containerStatuses": containers,
    }
    if init or sidecars:
        status["initContainerStatuses"] = [*sidecars, *init]
    if reason:
        status["reason"] = reason
    spec_init = [{"name": c["name"], "image": "x", "restartPolicy": "Always"} for c in sidecars]
    spec_init += [{"name": c["name"], "image": "x"} for c in init]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "restartPolicy": restart_policy,
            "initContainers": spec_init,
            "containers": [
                {"name": name, "image": "x"}
                for name in (spec_containers or [c["name"] for c in containers])
            ],
        },
        "status": status,
    }


def job(
    *,
    restart_policy: str = "Never",
    backoff_limit: int | None = 6,
    spec: Obj | None = None,
    status: Obj | None = None,
    conditions: list[Obj] | None = None,
    cronjob: str | None = None,
    name: str = "j",
) -> Obj:
    full_spec: Obj = {
        "parallelism": 1,
        "completions": 1,
        "completionMode": "NonIndexed",
        "suspend": False,
        "template": {"spec": {"restartPolicy": restart_policy, "containers": [{"name": "main"}]}},
    }
    if backoff_limit is not None:
        full_spec["backoffLimit"] = backoff_limit
    full_spec.update(spec or {})
    full_status: Obj = {"startTime": at(0), "active": 1, "uncountedTerminatedPods": {}}
    full_status.update(status or {})
    if conditions:
        full_status["conditions"] = conditions
    meta: Obj = {
        "name": name,
        "namespace": "default",
        "uid": JOB_UID,
        "creationTimestamp": at(0),
    }
    if cronjob:
        meta["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": cronjob,
                "uid": "cj",
                "controller": True,
            }
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": full_spec,
        "status": full_status,
    }


def pfp(*rules: Obj) -> Obj:
    return {"podFailurePolicy": {"rules": list(rules)}, "podReplacementPolicy": "Failed"}


def on_exit(action: str, operator: str, values: list[int], container: str | None = None) -> Obj:
    codes: Obj = {"operator": operator, "values": values}
    if container:
        codes["containerName"] = container
    return {"action": action, "onExitCodes": codes}


def on_condition(action: str, type_: str) -> Obj:
    return {"action": action, "onPodConditions": [{"type": type_, "status": "True"}]}
