"""The one declaration of every metric jobwatch exports.

Everything else reads this module: the exposition renders from it, the rule and dashboard
templates get names from it, and the tests check that every name a rule or panel uses is declared
here and emitted live. No metric name is typed anywhere else (kube-state-metrics' one generator
per family, `internal/store/job.go`).

Labels follow kube-state-metrics (`namespace`, `job_name`) so users can join with `kube_job_*`.
`cronjob` is the owner CronJob's name, "" for a standalone Job. Every other label takes values
from a bounded vocabulary (see `jobwatch.vocabulary`); free text never becomes a label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "summary"]

JOB_LABELS: tuple[str, ...] = ("namespace", "job_name", "cronjob")
CRONJOB_LABELS: tuple[str, ...] = ("namespace", "cronjob")


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: its exposed name, type, help text and label names, in order."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    unit: str = ""

    @property
    def key(self) -> str:
        """Short name used by templates: the family name without the `jobwatch_` prefix."""
        return self.name.removeprefix("jobwatch_")


def _job(name: str, help_: str, *extra: str, type_: MetricType = "gauge", unit: str = "") -> Metric:
    return Metric(f"jobwatch_job_{name}", type_, help_, (*JOB_LABELS, *extra), unit)


def _cronjob(name: str, help_: str, *extra: str, unit: str = "") -> Metric:
    return Metric(f"jobwatch_cronjob_{name}", "gauge", help_, (*CRONJOB_LABELS, *extra), unit)


def _exporter(name: str, help_: str, *labels: str, type_: MetricType = "gauge") -> Metric:
    unit = "seconds" if name.endswith("seconds") else ""
    return Metric(f"jobwatch_exporter_{name}", type_, help_, labels, unit)


# Per Job. Series exist exactly while the Job object exists.
JOB_INFO = _job(
    "info",
    "Static facts about a Job: pod restart policy and completion mode.",
    "restart_policy",
    "completion_mode",
)
JOB_STATE = _job(
    "state",
    "The Job's current state, one series per Job; reason is the condition or stall reason.",
    "state",
    "reason",
)
JOB_ATTEMPTS_USED = _job(
    "attempts_used",
    "Failures counted against the backoff limit, as the Job controller counts them.",
)
JOB_ATTEMPTS_LIMIT = _job(
    "attempts_limit",
    "The backoff limit: spec.backoffLimit, or backoffLimitPerIndex for per-index Jobs.",
)
JOB_ATTEMPTS_REMAINING = _job(
    "attempts_remaining",
    "Failures the Job can still absorb; 0 on a running Job means the current attempt is the last.",
)
JOB_FAILED_INDEXES = _job(
    "failed_indexes", "Indexes that exhausted backoffLimitPerIndex (Indexed Jobs only)."
)
JOB_MAX_FAILED_INDEXES = _job(
    "max_failed_indexes", "spec.maxFailedIndexes of a per-index Job (absent when unset)."
)
JOB_LAST_EXIT_CODE = _job(
    "last_exit_code",
    "Exit code of the most recent failed container termination (or the last exit 0 if none failed).",
    "container",
    "reason",
    "cause",
)
JOB_LAST_EXIT_TIMESTAMP = _job(
    "last_exit_timestamp_seconds",
    "When the container in jobwatch_job_last_exit_code terminated.",
    "cause",
    unit="seconds",
)
JOB_LAST_FAILURE_TIMESTAMP = _job(
    "last_failure_timestamp_seconds",
    "Latest failed container termination per cause, across the Job's pods.",
    "cause",
    unit="seconds",
)
JOB_HIDDEN_FAILURES = _job(
    "hidden_failures", "Failures hidden behind a success or a Completed status, by kind.", "kind"
)
JOB_STALLED_SINCE = _job(
    "stalled_since_timestamp_seconds",
    "Since when the Job has been blocked by a condition that never counts against backoffLimit.",
    "reason",
    unit="seconds",
)
JOB_NEXT_RETRY = _job(
    "next_retry_timestamp_seconds",
    "When the Job controller may create the next pod (pod-recreation backoff).",
    unit="seconds",
)
JOB_DEADLINE = _job(
    "deadline_timestamp_seconds", "status.startTime + spec.activeDeadlineSeconds.", unit="seconds"
)
JOB_START = _job("start_timestamp_seconds", "status.startTime of the Job.", unit="seconds")
JOB_FINISH = _job(
    "finish_timestamp_seconds",
    "When the Job finished, successfully or not (the terminal condition's transition time).",
    unit="seconds",
)
JOB_CONTAINER_RESTARTS = _job(
    "container_restarts",
    "Sum of restartCount over the init, sidecar and regular containers of the Job's pods.",
)

# Per CronJob. Survive the deletion of Job objects; rebuilt from the Jobs that exist at start.
CRONJOB_LAST_RUN_STATE = _cronjob(
    "last_run_state",
    "State of the CronJob's most recent finished or running Job.",
    "state",
    "reason",
)
CRONJOB_LAST_SUCCESS = _cronjob(
    "last_success_timestamp_seconds", "When a Job of this CronJob last succeeded.", unit="seconds"
)
CRONJOB_LAST_FAILURE = _cronjob(
    "last_failure_timestamp_seconds", "When a Job of this CronJob last failed.", unit="seconds"
)
CRONJOB_FIRST_SEEN = _cronjob(
    "first_seen_timestamp_seconds",
    "Start of the oldest run jobwatch has seen for this CronJob (for 'never succeeded' alerts).",
    unit="seconds",
)
CRONJOB_CONSECUTIVE_FAILURES = _cronjob(
    "consecutive_failures", "Failed runs since the last successful one."
)

# Counters: bounded labels, never a Job name; each failure counted once.
JOB_FAILURES_TOTAL = Metric(
    "jobwatch_job_failures_total",
    "counter",
    "Jobs that reached a failed state, by reason.",
    ("namespace", "cronjob", "reason"),
)
CONTAINER_FAILURES_TOTAL = Metric(
    "jobwatch_container_failures_total",
    "counter",
    "Failed container terminations seen in Job pods, by cause.",
    ("namespace", "cronjob", "cause"),
)

# The exporter's own health.
EXPORTER_BUILD_INFO = _exporter(
    "build_info", "jobwatch version and Python version.", "version", "python_version"
)
EXPORTER_API_REQUESTS_TOTAL = _exporter(
    "api_requests_total",
    "Kubernetes API list and watch requests, by outcome.",
    "resource",
    "verb",
    "result",
    type_="counter",
)
EXPORTER_RELISTS_TOTAL = _exporter(
    "relists_total", "Full relists (after 410 Expired), by resource.", "resource", type_="counter"
)
EXPORTER_EVENTS_TOTAL = _exporter(
    "events_total",
    "Watch events received, by resource and type.",
    "resource",
    "type",
    type_="counter",
)
EXPORTER_PARSE_ERRORS_TOTAL = _exporter(
    "parse_errors_total",
    "Objects that could not be parsed or analysed and were skipped (see the log).",
    "resource",
    type_="counter",
)
EXPORTER_TOLERANT_DECODES_TOTAL = _exporter(
    "tolerant_decodes_total",
    "Jobs and Pods that the fast typed decoder rejected (a field of an unexpected type) and the "
    "slower tolerant path read instead. Steadily rising: something writes fields in a shape "
    "jobwatch does not expect, and each such object costs several times more to read.",
    "resource",
    type_="counter",
)
EXPORTER_TRACKED_OBJECTS = _exporter(
    "tracked_objects", "Objects currently held in the store.", "resource"
)
EXPORTER_SYNCED = _exporter(
    "synced", "1 once the initial LIST of the resource has completed.", "resource"
)
EXPORTER_LAST_EVENT = _exporter(
    "last_event_timestamp_seconds", "When the last watch event or bookmark arrived.", "resource"
)
EXPORTER_UNRENDERED_AGE = _exporter(
    "unrendered_change_age_seconds",
    "Age of the oldest change not yet in the served body (0 when it is current): how stale "
    "/metrics is. Bounded by the render debounce plus one pass over the changed Jobs.",
)
EXPORTER_UNAVAILABLE = _exporter(
    "resource_unavailable",
    "1 while the resource cannot be listed in the namespace (empty: cluster-wide): problem "
    "forbidden (RBAC) or invalid (a bad label selector, an unserved resource); else 0, none.",
    "resource",
    "namespace",
    "problem",
)
EXPORTER_DRIFT_TOTAL = _exporter(
    "drift_total",
    "Objects a periodic relist found missing, extra or different in the store, then healed.",
    "resource",
    type_="counter",
)
EXPORTER_RENDER_SECONDS = _exporter(
    "render_seconds", "Time spent re-rendering per-Job exposition after changes.", type_="summary"
)

# The families by what their series belong to, in exposition order. A new metric joins one of
# these tuples (tests/test_metrics.py fails on a declared Metric that is in none).
JOB_FAMILIES: tuple[Metric, ...] = (
    JOB_INFO,
    JOB_STATE,
    JOB_ATTEMPTS_USED,
    JOB_ATTEMPTS_LIMIT,
    JOB_ATTEMPTS_REMAINING,
    JOB_FAILED_INDEXES,
    JOB_MAX_FAILED_INDEXES,
    JOB_LAST_EXIT_CODE,
    JOB_LAST_EXIT_TIMESTAMP,
    JOB_LAST_FAILURE_TIMESTAMP,
    JOB_HIDDEN_FAILURES,
    JOB_STALLED_SINCE,
    JOB_NEXT_RETRY,
    JOB_DEADLINE,
    JOB_START,
    JOB_FINISH,
    JOB_CONTAINER_RESTARTS,
)
CRONJOB_FAMILIES: tuple[Metric, ...] = (
    CRONJOB_LAST_RUN_STATE,
    CRONJOB_LAST_SUCCESS,
    CRONJOB_LAST_FAILURE,
    CRONJOB_FIRST_SEEN,
    CRONJOB_CONSECUTIVE_FAILURES,
)
FAILURE_COUNTERS: tuple[Metric, ...] = (JOB_FAILURES_TOTAL, CONTAINER_FAILURES_TOTAL)
EXPORTER_FAMILIES: tuple[Metric, ...] = (
    EXPORTER_BUILD_INFO,
    EXPORTER_API_REQUESTS_TOTAL,
    EXPORTER_RELISTS_TOTAL,
    EXPORTER_EVENTS_TOTAL,
    EXPORTER_PARSE_ERRORS_TOTAL,
    EXPORTER_TOLERANT_DECODES_TOTAL,
    EXPORTER_TRACKED_OBJECTS,
    EXPORTER_SYNCED,
    EXPORTER_UNAVAILABLE,
    EXPORTER_DRIFT_TOTAL,
    EXPORTER_LAST_EVENT,
    EXPORTER_UNRENDERED_AGE,
    EXPORTER_RENDER_SECONDS,
)
ALL: tuple[Metric, ...] = (*JOB_FAMILIES, *CRONJOB_FAMILIES, *FAILURE_COUNTERS, *EXPORTER_FAMILIES)
BY_KEY: dict[str, Metric] = {m.key: m for m in ALL}
BY_NAME: dict[str, Metric] = {m.name: m for m in ALL}


def exposed_names(metric: Metric) -> tuple[str, ...]:
    """Sample names a family produces in text exposition (counters gain `_total` already)."""
    if metric.type == "summary":
        return (f"{metric.name}_sum", f"{metric.name}_count")
    return (metric.name,)
