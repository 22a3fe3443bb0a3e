"""Pod shapes and the STATUS cell `kubectl get pods` shows for each, as pure data.

The expected cells are read by hand from `printPod` (pkg/printers/internalversion/printers.go at
v1.37.2, docs/job-semantics.md §5.1), never from our code. Three places check them: the exporter's
`kubectl_status` and the sim's table printer (tests/test_printer.py), and the real API server's
server-side Table (tests/kube/test_printer_vs_real.py), which is the final word.

Every shape is a whole Pod as `tests.builders.pod` makes it; the kube tier creates it from its
spec and metadata, then PATCHes its status, so the status must be one the API server accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.builders import cond, ctr, pod, running, terminated, waiting

Obj = dict[str, Any]

INITIALIZED = cond("Initialized")
NOT_INITIALIZED = cond("Initialized", "False")
READY = cond("Ready")
NOT_READY = cond("Ready", "False")


@dataclass(frozen=True)
class Shape:
    id: str
    pod: Obj
    status: str  # the STATUS cell
    ready: str  # the READY cell
    restarts: int  # the RESTARTS cell's count (the "(5s ago)" part depends on the clock)


def ready_ctr(name: str = "main") -> Obj:
    return {**ctr(name, state=running()), "ready": True, "started": True}


def started_sidecar(name: str = "proxy") -> Obj:
    return {**ctr(name, state=running()), "ready": True, "started": True}


def no_reason(code: int, signal: int = 0) -> Obj:
    state = terminated(code, finished=5)
    state["terminated"].pop("reason")
    if signal:
        state["terminated"]["signal"] = signal
    return state


SHAPES: list[Shape] = [
    # Plain phases and container states.
    Shape(
        "running_ready",
        pod(phase="Running", containers=[ready_ctr()], conditions=[INITIALIZED, READY]),
        "Running",
        "1/1",
        0,
    ),
    Shape("running_not_ready", pod(phase="Running", containers=[ctr()]), "Running", "0/1", 0),
    Shape(
        "pending_container_creating",
        pod(phase="Pending", containers=[ctr(state=waiting("ContainerCreating"))]),
        "ContainerCreating",
        "0/1",
        0,
    ),
    Shape(
        "pending_without_container_statuses",
        pod(
            phase="Pending",
            containers=[],
            spec_containers=["main"],
            conditions=[cond("PodScheduled", "False", reason="Unschedulable")],
        ),
        "Pending",
        "0/1",
        0,
    ),
    Shape(
        "scheduling_gated",
        pod(
            phase="Pending",
            containers=[],
            spec_containers=["main"],
            conditions=[cond("PodScheduled", "False", reason="SchedulingGated")],
        ),
        "SchedulingGated",
        "0/1",
        0,
    ),
    Shape(
        "image_pull_backoff",
        pod(phase="Pending", containers=[ctr(state=waiting("ImagePullBackOff"))]),
        "ImagePullBackOff",
        "0/1",
        0,
    ),
    Shape(
        "create_container_config_error",
        pod(phase="Pending", containers=[ctr(state=waiting("CreateContainerConfigError"))]),
        "CreateContainerConfigError",
        "0/1",
        0,
    ),
    Shape(
        "onfailure_crash_loop",
        pod(
            phase="Running",
            restart_policy="OnFailure",
            containers=[
                ctr(state=waiting("CrashLoopBackOff"), last=terminated(1, finished=4), restarts=2)
            ],
        ),
        "CrashLoopBackOff",
        "0/1",
        2,
    ),
    Shape(
        "succeeded",
        pod(phase="Succeeded", containers=[ctr(state=terminated(0))]),
        "Completed",
        "0/1",
        0,
    ),
    Shape(
        "failed_error",
        pod(phase="Failed", containers=[ctr(state=terminated(1))]),
        "Error",
        "0/1",
        0,
    ),
    Shape(
        "failed_oom",
        pod(phase="Failed", containers=[ctr(state=terminated(137, "OOMKilled"))]),
        "OOMKilled",
        "0/1",
        0,
    ),
    Shape(
        "failed_start_error",
        pod(phase="Failed", containers=[ctr(state=terminated(128, "StartError"))]),
        "StartError",
        "0/1",
        0,
    ),
    Shape(
        "failed_container_status_unknown",
        pod(phase="Failed", containers=[ctr(state=terminated(137, "ContainerStatusUnknown"))]),
        "ContainerStatusUnknown",
        "0/1",
        0,
    ),
    Shape(
        "terminated_without_reason_shows_the_exit_code",
        pod(phase="Failed", containers=[ctr(state=no_reason(2))]),
        "ExitCode:2",
        "0/1",
        0,
    ),
    Shape(
        "terminated_by_a_signal_without_reason",
        pod(phase="Failed", containers=[ctr(state=no_reason(137, signal=9))]),
        "Signal:9",
        "0/1",
        0,
    ),
    Shape(
        "evicted_before_any_container_status",
        pod(phase="Failed", reason="Evicted", containers=[], spec_containers=["main"]),
        "Evicted",
        "0/1",
        0,
    ),
    Shape(
        "evicted_with_a_killed_container_shows_the_container",
        pod(phase="Failed", reason="Evicted", containers=[ctr(state=terminated(137))]),
        "Error",
        "0/1",
        0,
    ),
    # Two regular containers: statuses are sorted by name, read last to first.
    Shape(
        "failed_first_container_ok_second_failed_shows_the_error",
        pod(
            phase="Failed",
            containers=[ctr("app", state=terminated(0)), ctr("worker", state=terminated(1))],
        ),
        "Error",
        "0/2",
        0,
    ),
    Shape(
        "failed_first_container_failed",
        pod(
            phase="Failed",
            containers=[ctr("app", state=terminated(1)), ctr("worker", state=terminated(0))],
        ),
        "Error",
        "0/2",
        0,
    ),
    Shape(
        "failed_shows_completed_when_no_container_failed_visibly",
        pod(
            phase="Failed",
            containers=[
                ctr("app", state=terminated(0)),
                ctr("worker", state=waiting("ContainerCreating")),
            ],
        ),
        "Completed",
        "0/2",
        0,
    ),
    Shape(
        "completed_and_a_ready_running_container_on_a_ready_pod",
        pod(
            phase="Running",
            containers=[ctr("app", state=terminated(0)), ready_ctr("worker")],
            conditions=[INITIALIZED, READY],
        ),
        "Running",
        "1/2",
        0,
    ),
    Shape(
        "completed_and_a_ready_running_container_on_a_not_ready_pod",
        pod(
            phase="Running",
            containers=[ctr("app", state=terminated(0)), ready_ctr("worker")],
            conditions=[INITIALIZED, NOT_READY],
        ),
        "NotReady",
        "1/2",
        0,
    ),
    Shape(
        "completed_and_an_unready_running_container",
        pod(
            phase="Running",
            containers=[ctr("app", state=terminated(0)), ctr("worker", state=running())],
        ),
        "Completed",
        "0/2",
        0,
    ),
    # Init containers.
    Shape(
        "init_running",
        pod(
            phase="Pending",
            init=[ctr("setup", state=running())],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:0/1",
        "0/1",
        0,
    ),
    Shape(
        "init_second_of_two_running",
        pod(
            phase="Pending",
            init=[ctr("a-setup", state=terminated(0)), ctr("b-setup", state=running())],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:1/2",
        "0/1",
        0,
    ),
    Shape(
        "init_crash_loop",
        pod(
            phase="Pending",
            restart_policy="OnFailure",
            init=[ctr("setup", state=waiting("CrashLoopBackOff"), last=terminated(2), restarts=3)],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:CrashLoopBackOff",
        "0/1",
        3,
    ),
    Shape(
        "init_failed_under_never",
        pod(
            phase="Failed",
            init=[ctr("setup", state=terminated(3))],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:Error",
        "0/1",
        0,
    ),
    Shape(
        "init_failed_without_reason",
        pod(
            phase="Failed",
            init=[ctr("setup", state=no_reason(3))],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:ExitCode:3",
        "0/1",
        0,
    ),
    Shape(
        "init_killed_by_a_signal_without_reason",
        pod(
            phase="Failed",
            init=[ctr("setup", state=no_reason(137, signal=9))],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:Signal:9",
        "0/1",
        0,
    ),
    # Native sidecars (restartable init containers).
    Shape(
        "started_sidecar_and_running_main",
        pod(
            phase="Running",
            sidecars=[started_sidecar()],
            containers=[ready_ctr()],
            conditions=[INITIALIZED, READY],
        ),
        "Running",
        "2/2",
        0,
    ),
    Shape(
        "sidecar_not_started_yet",
        pod(
            phase="Pending",
            sidecars=[ctr("proxy", state=running())],
            containers=[ctr(state=waiting("PodInitializing"))],
            conditions=[NOT_INITIALIZED],
        ),
        "Init:0/1",
        "0/2",
        0,
    ),
    Shape(
        "crash_looping_sidecar_on_an_initialized_pod_keeps_its_init_status",
        pod(
            phase="Running",
            sidecars=[
                ctr("proxy", state=waiting("CrashLoopBackOff"), last=terminated(1), restarts=2)
            ],
            containers=[ready_ctr()],
            conditions=[INITIALIZED, READY],
        ),
        "Init:CrashLoopBackOff",
        "1/2",
        2,
    ),
    Shape(
        "crash_looping_sidecar_on_an_initialized_pod_yields_to_a_failed_main",
        pod(
            phase="Running",
            sidecars=[
                ctr("proxy", state=waiting("CrashLoopBackOff"), last=terminated(1), restarts=2)
            ],
            containers=[ctr(state=terminated(1))],
            conditions=[INITIALIZED, NOT_READY],
        ),
        "Error",
        "0/2",
        2,
    ),
    Shape(
        "succeeded_with_a_sidecar_stopped_at_the_end",
        pod(
            phase="Succeeded",
            sidecars=[ctr("proxy", state=terminated(143, finished=7))],
            containers=[ctr(state=terminated(0, finished=6))],
            conditions=[INITIALIZED, NOT_READY],
        ),
        "Completed",
        "0/2",
        0,
    ),
    Shape(
        "succeeded_with_a_stopped_sidecar_but_no_initialized_condition",
        pod(
            phase="Succeeded",
            sidecars=[ctr("proxy", state=terminated(143, finished=7))],
            containers=[ctr(state=terminated(0, finished=6))],
        ),
        "Init:Error",
        "0/2",
        0,
    ),
    # Deletion.
    Shape(
        "running_pod_being_deleted",
        pod(phase="Running", containers=[ctr()], deleting=30),
        "Terminating",
        "0/1",
        0,
    ),
    Shape(
        "pending_pod_being_deleted",
        pod(phase="Pending", containers=[ctr(state=waiting("ImagePullBackOff"))], deleting=30),
        "Terminating",
        "0/1",
        0,
    ),
    Shape(
        "failed_pod_with_a_deletion_timestamp_is_not_terminating",
        pod(phase="Failed", containers=[ctr(state=terminated(1))], deleting=30),
        "Error",
        "0/1",
        0,
    ),
    Shape(
        "succeeded_pod_with_a_deletion_timestamp_is_not_terminating",
        pod(phase="Succeeded", containers=[ctr(state=terminated(0))], deleting=30),
        "Completed",
        "0/1",
        0,
    ),
    Shape(
        "node_lost_pod_being_deleted_is_unknown",
        pod(phase="Running", reason="NodeLost", containers=[ctr()], deleting=30),
        "Unknown",
        "0/1",
        0,
    ),
]
