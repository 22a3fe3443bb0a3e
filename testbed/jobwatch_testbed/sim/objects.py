"""Builders for real-shaped Job, Pod and CronJob objects (as `kubectl get -o json` shows them).

Shapes follow `/work/shared/fixtures/*.json` and the API server's defaulting:
`default_job(job)` (called by the store on create) adds the selector and the four
controller-uid/job-name labels, and the spec defaults; `new_job(...)`, `pod_for_job(...)`,
`new_cronjob(...)` build objects; `container_*` and `pod_conditions` build status parts.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from jobwatch_testbed.sim.store import JOB_TRACKING_FINALIZER, Obj

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID = "controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME = "job-name"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
CRONJOB_SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_INT32 = 2**31 - 1
BUSYBOX = "docker.io/library/busybox:1.36"


def default_container(container: Obj) -> None:
    image = container.get("image", "")
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    container.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        default_container(container)


def default_job(job: Obj) -> None:
    """API-server defaulting and selector generation for a new Job (needs metadata.uid).

    `pkg/apis/batch/v1/defaults.go` SetDefaults_Job: completions/parallelism 1, backoffLimit 6
    (MaxInt32 with backoffLimitPerIndex, docs/job-semantics.md §1.2), completionMode NonIndexed, suspend false,
    podReplacementPolicy Failed with a podFailurePolicy else TerminatingOrFailed (§1.11).
    """
    meta, spec = job["metadata"], job.setdefault("spec", {})
    uid, name = meta["uid"], meta["name"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    if not spec.get("manualSelector"):
        labels = {
            CONTROLLER_UID: uid,
            JOB_NAME: name,
            LEGACY_CONTROLLER_UID: uid,
            LEGACY_JOB_NAME: name,
        }
        tmeta["labels"] = {**(tmeta.get("labels") or {}), **labels}
        spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}
    if not meta.get("labels"):
        meta["labels"] = dict(tmeta.get("labels") or {})
    default_pod_spec(template.setdefault("spec", {}))
    job.setdefault("status", {})


def container(name: str, command: list[str], image: str = BUSYBOX, **extra: Any) -> Obj:
    return {"name": name, "image": image, "command": command, **extra}


def new_job(
    namespace: str,
    name: str,
    containers: list[Obj],
    *,
    restart_policy: str = "Never",
    init_containers: list[Obj] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    **spec: Any,
) -> Obj:
    """A Job as a user (or the CronJob controller, with `owner`) would submit it."""
    pod_spec: Obj = {"restartPolicy": restart_policy, "containers": containers}
    if init_containers:
        pod_spec["initContainers"] = init_containers
    meta: Obj = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner is not None:
        meta["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {**spec, "template": {"metadata": {}, "spec": pod_spec}},
    }


def owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def new_cronjob(
    namespace: str, name: str, schedule: str, job_template_spec: Obj, **spec: Any
) -> Obj:
    """A CronJob; the pod template gets the API's pod defaults (Job defaults do not apply)."""
    job_template_spec = copy.deepcopy(job_template_spec)
    default_pod_spec(job_template_spec.setdefault("template", {}).setdefault("spec", {}))
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            **spec,
            "jobTemplate": {"metadata": {}, "spec": job_template_spec},
        },
        "status": {},
    }


def pod_for_job(job: Obj, index: int | None = None, failure_count: int = 0) -> Obj:
    """A pod as the Job controller creates it (the store fills the name from generateName):
    template labels, controller ownerReference,
    tracking finalizer (§1.7), and for Indexed Jobs the completion index annotation+label,
    hostname, JOB_COMPLETION_INDEX env and the index failure count annotation (§1.10)."""
    meta, spec = job["metadata"], job["spec"]
    template = copy.deepcopy(spec["template"])
    name = meta["name"]
    labels = dict(template["metadata"].get("labels") or {})
    annotations = dict(template["metadata"].get("annotations") or {})
    pod_spec = template["spec"]
    generate_name = f"{name}-"
    if index is not None:
        generate_name = f"{name}-{index}-"
        labels[COMPLETION_INDEX] = str(index)
        annotations[COMPLETION_INDEX] = str(index)
        if spec.get("backoffLimitPerIndex") is not None:
            annotations[INDEX_FAILURE_COUNT] = str(failure_count)
        pod_spec["hostname"] = f"{name}-{index}"
        env = {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {
                    "apiVersion": "v1",
                    "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']",
                }
            },
        }
        for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
            c["env"] = [*c.get("env", []), env]
    pod_meta: Obj = {
        "generateName": generate_name,
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(job)],
        "finalizers": [JOB_TRACKING_FINALIZER],
    }
    if annotations:
        pod_meta["annotations"] = annotations
    pod_spec.setdefault("serviceAccountName", "default")
    pod_spec.setdefault("enableServiceLinks", True)
    pod_spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    pod_spec.setdefault("priority", 0)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": pod_spec,
        "status": {"phase": "Pending", "qosClass": qos_class(pod_spec)},
    }


def qos_class(pod_spec: Obj) -> str:
    """Guaranteed (cpu and memory limits == requests everywhere), BestEffort (nothing set),
    else Burstable: the pod's `status.qosClass`."""
    containers = pod_spec.get("initContainers", []) + pod_spec.get("containers", [])
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits = r.get("limits") or {}
        requests = {**limits, **(r.get("requests") or {})}
        if any(limits.get(k) is None or limits[k] != requests.get(k) for k in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"


def validate_job(job: Obj) -> str | None:
    """The API server's check that matters for Jobs (§1.17): an error or None."""
    policy = job.get("spec", {}).get("template", {}).get("spec", {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        return (
            'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
        )
    return None


def fake_digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repo}@sha256:{fake_digest(repo)}"


def container_id(seed: str) -> str:
    return f"containerd://{fake_digest(seed)}"


def condition(ctype: str, status: str, now: str, reason: str = "", message: str = "") -> Obj:
    """A pod condition (lastProbeTime null, as the kubelet writes it)."""
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def job_condition(ctype: str, now: str, reason: str, message: str, status: str = "True") -> Obj:
    """A Job condition (the controller sets lastProbeTime too)."""
    return {
        "type": ctype,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
