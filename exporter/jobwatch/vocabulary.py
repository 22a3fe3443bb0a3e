"""The bounded sets that label values come from. Free text never becomes a label."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A Job's state as jobwatch reports it."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    STALLED = "stalled"
    EXTERNAL = "external"


class Cause(StrEnum):
    """What a container's termination means, from its exit code and reason."""

    SUCCESS = "success"
    APP_ERROR = "app_error"
    NOT_EXECUTABLE = "not_executable"
    COMMAND_NOT_FOUND = "command_not_found"
    START_ERROR = "start_error"
    OOM_KILLED = "oom_killed"
    SIGKILL = "sigkill"
    SEGFAULT = "segfault"
    SIGTERM = "sigterm"
    SIGNAL = "signal"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    EVICTED = "evicted"
    UNKNOWN = "unknown"


# Causes that retrying cannot fix: the container never ran the intended program.
CANNOT_START_CAUSES: frozenset[Cause] = frozenset(
    {Cause.COMMAND_NOT_FOUND, Cause.NOT_EXECUTABLE, Cause.START_ERROR}
)


class HiddenFailure(StrEnum):
    """Ways a success or a Completed status hides failures (docs/job-semantics.md §5.3)."""

    FAILED_PODS_BEFORE_SUCCESS = "failed_pods_before_success"
    RESTARTS_BEFORE_SUCCESS = "restarts_before_success"
    SIDECAR_FAILURES = "sidecar_failures"
    IGNORED_BY_POD_FAILURE_POLICY = "ignored_by_pod_failure_policy"
    FAILED_INDEXES_DESPITE_SUCCESS = "failed_indexes_despite_success"
    FAILED_POD_DISPLAYED_COMPLETED = "failed_pod_displayed_completed"


class StallReason(StrEnum):
    """Why a Job can wait forever without a failure ever counting (docs/job-semantics.md §4)."""

    IMAGE_PULL = "image_pull"
    CONFIG_ERROR = "config_error"
    UNSCHEDULABLE = "unschedulable"
    INIT_BLOCKED = "init_blocked"
    SIDECAR_NEVER_EXITS = "sidecar_never_exits"
    NO_PODS = "no_pods"


OTHER = "other"  # any reason outside the vocabularies below; the raw text goes to the status
# page and `diagnose`, never to a label (issue 11 §5)

# Job condition reasons (pkg/controller/job and k8s.io/api/batch/v1, v1.3x), the pre-1.31
# reasonless Complete, and stall reasons: the values of a Job's or CronJob run's `reason` label.
JOB_REASONS: frozenset[str] = frozenset(
    {
        "",
        "BackoffLimitExceeded",
        "DeadlineExceeded",
        "PodFailurePolicy",
        "MaxFailedIndexesExceeded",
        "FailedIndexes",
        "CompletionsReached",
        "SuccessPolicy",
        "Completed",
        "JobSuspended",
        "JobResumed",
        *(r.value for r in StallReason),
    }
)

# Container termination reasons the kubelet and the common runtimes write.
EXIT_REASONS: frozenset[str] = frozenset(
    {
        "",
        "Completed",
        "Error",
        "OOMKilled",
        "ContainerCannotRun",
        "StartError",
        "DeadlineExceeded",
        "Evicted",
        "ContainerStatusUnknown",
        "Unknown",
    }
)
RESTART_POLICIES: frozenset[str] = frozenset({"", "Never", "OnFailure", "Always"})
COMPLETION_MODES: frozenset[str] = frozenset({"", "NonIndexed", "Indexed"})


def bounded(value: str, known: frozenset[str]) -> str:
    """`value` when it is in the vocabulary `known`, else "other"."""
    return value if value in known else OTHER


# One line each, without the exit code: what the cause means, and what usually fixes it (docs/job-semantics.md §5.2).
CAUSE_MEANING: dict[Cause, str] = {
    Cause.SUCCESS: "the container finished its work",
    Cause.APP_ERROR: "the program exited with an error of its own",
    Cause.NOT_EXECUTABLE: "the command was found but is not executable",
    Cause.COMMAND_NOT_FOUND: "the shell could not find the command",
    Cause.START_ERROR: "the container runtime could not start the process (StartError)",
    Cause.OOM_KILLED: "killed by the kernel for exceeding its memory limit (OOMKilled)",
    Cause.SIGKILL: "killed with SIGKILL (liveness failure, grace period expired or forced delete)",
    Cause.SEGFAULT: "segmentation fault (SIGSEGV) in the program",
    Cause.SIGTERM: "stopped by SIGTERM (deletion, eviction or deadline)",
    Cause.SIGNAL: "killed by a signal (the exit code minus 128 is its number)",
    Cause.DEADLINE_EXCEEDED: "stopped because activeDeadlineSeconds was reached",
    Cause.EVICTED: "the pod was evicted from its node",
    Cause.UNKNOWN: "terminated for a reason jobwatch does not recognise",
}

CAUSE_ADVICE: dict[Cause, str] = {
    Cause.SUCCESS: "nothing to fix",
    Cause.APP_ERROR: "read the container's logs; the program reported the error",
    Cause.NOT_EXECUTABLE: "make the entrypoint executable (chmod +x) or call it through its interpreter",
    Cause.COMMAND_NOT_FOUND: "fix the command or install it in the image; retrying cannot help",
    Cause.START_ERROR: "fix command/args or the image entrypoint; the binary does not exist in the image",
    Cause.OOM_KILLED: "raise resources.limits.memory or reduce the job's memory use",
    Cause.SIGKILL: "check liveness probes and terminationGracePeriodSeconds; look for forced deletes",
    Cause.SEGFAULT: "a crash in native code: check the image's libraries and the input data",
    Cause.SIGTERM: "the pod was stopped from outside: check deletions, evictions and deadlines",
    Cause.SIGNAL: "find what sent the signal: the exit code minus 128 is its number",
    Cause.DEADLINE_EXCEEDED: "raise activeDeadlineSeconds or make the job faster",
    Cause.EVICTED: "check node pressure and the pod's resource requests",
    Cause.UNKNOWN: "kubectl describe pod; the reason is in the container status",
}

STALL_ADVICE: dict[StallReason, str] = {
    StallReason.IMAGE_PULL: "fix the image reference or registry credentials (imagePullSecrets)",
    StallReason.CONFIG_ERROR: "create the missing ConfigMap/Secret or key the container refers to",
    StallReason.UNSCHEDULABLE: "free capacity, or fix node selectors, affinity, taints or requests",
    StallReason.INIT_BLOCKED: "see why the init container does not finish: kubectl logs -c <init>",
    StallReason.SIDECAR_NEVER_EXITS: "make the sidecar a native sidecar (initContainers, restartPolicy: Always)",
    StallReason.NO_PODS: "pods are not being created: kubectl describe job, check quota and admission",
}
