"""One JSON contract for what jobwatch knows about Jobs and CronJobs.

`jobwatch diagnose -o json` prints it for a dump; the exporter serves it at /jobs.json for its
status page. Both put Jobs in trouble first: cannot start, failed, last attempt, stalled, hidden
failures; then the rest by namespace and name. Fields are only ever added, never renamed.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobwatch.analysis.job import logs_command
from jobwatch.analysis.report import CronJobStatus, JobReport
from jobwatch.state.cronjobs import CronJobHistory
from jobwatch.vocabulary import CANNOT_START_CAUSES, Cause, State

# Most urgent first; a Job has at most one (its root cause).
TROUBLE = ("cannot_start", "failed", "last_attempt", "stalled", "hidden_failures")
_RANK = {name: rank for rank, name in enumerate(TROUBLE)}
# Causes whose container never ran a program, so it has no logs worth reading.
_NO_LOGS = frozenset({Cause.START_ERROR})


# The largest time RFC 3339 and Python's datetime can write: later instants (an
# activeDeadlineSeconds of 10^12, which the API server accepts) are shown as this bound.
LATEST_SHOWN = "9999-12-31T23:59:59Z"
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def rfc3339(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    if not timestamp <= _LATEST:  # also NaN
        return LATEST_SHOWN
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # before year 1
        return "0001-01-01T00:00:00Z"


def trouble(report: JobReport) -> str | None:
    """The one kind of trouble a Job is in (its root cause), or None."""
    state = report.state
    exit_ = report.last_exit
    if state is not State.SUCCEEDED and exit_ is not None and exit_.cause in CANNOT_START_CAUSES:
        return "cannot_start"
    if state is State.FAILED:
        return "failed"
    a = report.attempts
    if state is State.RUNNING and a is not None and a.remaining == 0 and a.used > 0:
        return "last_attempt"
    if state is State.STALLED:
        return "stalled"
    if state is State.SUCCEEDED and report.hidden_failures:
        return "hidden_failures"
    return None


def commands(report: JobReport) -> list[str]:
    """Copy-ready kubectl commands for this Job, shell-quoted."""
    ns, name = report.namespace, report.name
    out = [
        shlex.join(["kubectl", "-n", ns, "describe", "job", name]),
        shlex.join(["kubectl", "-n", ns, "get", "pods", "-l", f"job-name={name}", "-o", "wide"]),
    ]
    exit_ = report.last_exit
    if exit_ is not None and exit_.cause not in _NO_LOGS:
        out.append(logs_command(ns, exit_))
    if report.stall is not None:  # the scheduler's and kubelet's events say what blocks it
        out.append(shlex.join(["kubectl", "-n", ns, "describe", "pods", "-l", f"job-name={name}"]))
    return out


def job_json(report: JobReport, now: float) -> dict[str, Any]:
    """One Job, as `diagnose -o json` and /jobs.json give it."""
    exit_ = report.last_exit
    stall = report.stall
    return {
        "namespace": report.namespace,
        "name": report.name,
        "cronjob": report.cronjob,
        "state": report.state.value,
        "reason": report.reason,
        "attempts": None
        if report.attempts is None
        else {
            "used": report.attempts.used,
            "limit": report.attempts.limit,
            "remaining": report.attempts.remaining,
        },
        "last_exit": None
        if exit_ is None
        else {
            "pod": exit_.pod,
            "container": exit_.container,
            "code": exit_.code,
            "reason": exit_.reason,
            "cause": exit_.cause.value,
            "meaning": exit_.meaning,
        },
        "hidden_failures": [
            {"kind": h.kind.value, "count": h.count} for h in report.hidden_failures
        ],
        "stall": None
        if stall is None
        else {
            "reason": stall.reason.value,
            "since": rfc3339(stall.since),
            "age_seconds": None if stall.since is None else max(int(now - stall.since), 0),
        },
        "next_retry_at": rfc3339(report.next_retry_at),
        "deadline_at": rfc3339(report.deadline_at),
        "advice": report.advice,
        "trouble": trouble(report),
        "restart_policy": report.restart_policy,
        "commands": commands(report),
    }


def cronjob_json(status: CronJobStatus, now: float) -> dict[str, Any]:
    def age(at: float | None) -> int | None:
        return None if at is None else max(int(now - at), 0)

    return {
        "namespace": status.namespace,
        "name": status.cronjob,
        "last_run": {"state": status.last_state, "reason": status.last_reason}
        if status.last_state
        else None,
        "last_success_at": rfc3339(status.last_success_at),
        "last_success_age_seconds": age(status.last_success_at),
        "last_failure_at": rfc3339(status.last_failure_at),
        "consecutive_failures": status.consecutive_failures,
        "first_seen_at": rfc3339(status.first_seen_at),
        "watched_seconds": age(status.first_seen_at),
        "healthy": status.consecutive_failures == 0,
    }


@dataclass(frozen=True)
class Query:
    """What a reader asks for: filters, then one page of the ordered Jobs."""

    namespace: str | None = None
    state: str | None = None  # a State value, a TROUBLE kind, or "trouble" for any of them
    job: str | None = None
    cronjob: str | None = None
    offset: int = 0
    limit: int | None = None  # None: every match (diagnose); the server caps it

    def matches(self, report: JobReport, kind: str | None) -> bool:
        """Whether the Job (and its trouble `kind`) passes the filters."""
        if self.namespace is not None and report.namespace != self.namespace:
            return False
        if self.job is not None and report.name != self.job:
            return False
        if self.cronjob is not None and report.cronjob != self.cronjob:
            return False
        if self.state is None:
            return True
        if self.state == "trouble":
            return kind is not None
        return self.state in (kind, report.state.value)


STATE_FILTERS = ("trouble", *TROUBLE, *(s.value for s in State))


@dataclass(frozen=True)
class Index:
    """Every Job in reading order with its trouble, and the counts: built once per change of
    the Jobs, then each request only filters and slices it."""

    ordered: list[tuple[JobReport, str | None]]
    states: dict[str, int]
    kinds: dict[str, int]
    namespaces: list[str]


def index(reports: Iterable[JobReport]) -> Index:
    entries = []
    for r in reports:
        kind = trouble(r)
        rank = len(TROUBLE) if kind is None else _RANK[kind]
        entries.append(((rank, r.namespace, r.name), r, kind))
    entries.sort(key=lambda e: e[0])
    states = Counter(r.state.value for _, r, _ in entries)
    kinds = Counter(k for _, _, k in entries if k is not None)
    return Index(
        ordered=[(r, k) for _, r, k in entries],
        states={s.value: states[s.value] for s in State if states[s.value]},
        kinds={k: kinds[k] for k in TROUBLE if kinds[k]},
        namespaces=sorted({r.namespace for _, r, _ in entries}),
    )


def document(
    jobs: Index | Iterable[JobReport],
    cronjobs: Iterable[CronJobStatus],
    now: float,
    query: Query = Query(),
) -> dict[str, Any]:
    """The whole contract: the page of Jobs asked for, CronJob health, and counts."""
    idx = jobs if isinstance(jobs, Index) else index(jobs)
    everything = idx.ordered
    if query == Query(offset=query.offset, limit=query.limit):
        selected = everything  # no filter: the index is the answer
    else:
        selected = [(r, k) for r, k in everything if query.matches(r, k)]
    end = None if query.limit is None else query.offset + query.limit
    page = selected[query.offset : end]
    crons = sorted(
        (
            c
            for c in cronjobs
            if (query.namespace is None or c.namespace == query.namespace)
            and (query.cronjob is None or c.cronjob == query.cronjob)
        ),
        key=lambda c: (c.consecutive_failures == 0, c.namespace, c.cronjob),
    )
    return {
        "generated_at": rfc3339(now),
        "total": len(everything),
        "matched": len(selected),
        "offset": query.offset,
        "jobs": [job_json(r, now) for r, _ in page],
        "counts": {
            "in_trouble": sum(idx.kinds.values()),
            "trouble": idx.kinds,
            "state": idx.states,
        },
        "namespaces": idx.namespaces,
        "cronjobs": [cronjob_json(c, now) for c in crons],
    }


def cronjob_statuses(
    reports: Iterable[JobReport], created: Mapping[str, float | None]
) -> list[CronJobStatus]:
    """CronJob health from the Jobs at hand (diagnose: a dump has no history beyond them)."""
    history = CronJobHistory()
    for r in reports:
        history.record(r, created.get(r.uid))
    return [history.status(key) for key in history.names()]
