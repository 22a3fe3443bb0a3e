"""What `kubectl get pods` shows in STATUS: the API server's table printer, `printPod` in
pkg/printers/internalversion/printers.go at v1.37.2 (docs/job-semantics.md §5.1).

It decides `failed_pod_displayed_completed`. In order:
1. `status.reason`, else the phase; `SchedulingGated` when PodScheduled says so.
2. Init containers in status order: a finished (exit 0) one, or a started native sidecar, is
   passed; the first other one sets `Init:<reason>`, `Init:Signal:n`, `Init:ExitCode:n`,
   `Init:<waiting reason>` or `Init:i/n`.
3. Unless an init container is still in the way *and* the Initialized condition is not True,
   regular containers are read last to first, so the first container with a waiting or terminated
   reason wins. A "Completed" result then becomes "Running" if a ready container runs and the pod
   is Ready, the last non-zero exit's reason if there was one, or "NotReady" if a ready container
   still runs.
4. A pod with a deletionTimestamp shows "Unknown" when its reason is NodeLost, and "Terminating"
   only while it is not terminal (Succeeded or Failed).
"""

from __future__ import annotations

from jobwatch.model import ContainerStatus, Pod, Termination

NODE_UNREACHABLE_REASON = "NodeLost"  # pkg/util/node NodeUnreachablePodReason
SCHEDULING_GATED = "SchedulingGated"


def _terminated_text(term: Termination) -> str:
    if term.reason:
        return term.reason
    if term.signal:
        return f"Signal:{term.signal}"
    return f"ExitCode:{term.exit_code}"


def _init_status(pod: Pod) -> str | None:
    """The Init:… text of the first init container still in the way, or None when none is."""
    inits = [c for c in pod.containers if c.kind != "regular"]
    for i, c in enumerate(inits):
        term = c.terminated
        if term is not None and term.exit_code == 0:
            continue
        if c.kind == "sidecar" and c.started:
            continue
        if term is not None:
            return "Init:" + _terminated_text(term)
        if c.waiting_reason and c.waiting_reason != "PodInitializing":
            return "Init:" + c.waiting_reason
        return f"Init:{i}/{pod.init_count}"
    return None


def _regular_status(pod: Pod, regular: list[ContainerStatus], reason: str) -> str:
    has_running = False
    error_reason = ""
    for c in reversed(regular):
        if c.waiting_reason:
            reason = c.waiting_reason
        elif c.terminated is not None:
            reason = _terminated_text(c.terminated)
            if c.terminated.exit_code != 0:
                error_reason = reason
        elif c.ready and c.running:
            has_running = True
    if reason == "Completed":
        ready = pod.condition("Ready")
        if has_running and ready is not None and ready.is_true:
            return "Running"
        if error_reason:
            return error_reason
        if has_running:
            return "NotReady"
    return reason


def kubectl_status(pod: Pod) -> str:
    """The STATUS cell of `kubectl get pods` for this pod."""
    reason = pod.reason or pod.phase
    if any(c.type == "PodScheduled" and c.reason == SCHEDULING_GATED for c in pod.conditions):
        reason = SCHEDULING_GATED
    init = _init_status(pod)
    if init is not None:
        reason = init
    initialized = pod.condition("Initialized")
    if init is None or (initialized is not None and initialized.is_true):
        regular = [c for c in pod.containers if c.kind == "regular"]
        reason = _regular_status(pod, regular, reason)
    if pod.deleting_at is not None and pod.reason == NODE_UNREACHABLE_REASON:
        return "Unknown"
    if pod.deleting_at is not None and not pod.is_terminal:
        return "Terminating"
    return reason
