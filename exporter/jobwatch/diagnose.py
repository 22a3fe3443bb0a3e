"""`jobwatch diagnose`: explain a `kubectl get jobs,pods -o json` dump offline.

Input: a v1 List (`kubectl get jobs,pods -A -o json`), a JobList or PodList, a single Job, or
several such documents one after another (`kubectl get jobs -o json; kubectl get pods -o json`).
The JSON output is a stable contract (see `report_to_json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from jobwatch.analysis import JobReport, analyse, pods_by_job
from jobwatch.model import Job, Pod, parse_job, parse_pod

LIST_KINDS = frozenset({"List", "JobList", "PodList"})
MAX_INPUT_BYTES = 256 * 1024 * 1024  # a 50k-pod `kubectl get -o json` dump is about 1 GB/20
# The largest time RFC 3339 and Python's datetime can write: later instants (an
# activeDeadlineSeconds of 10^12, which the API server accepts) are shown as this bound.
LATEST_SHOWN = "9999-12-31T23:59:59Z"
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


class InputError(ValueError):
    """The input cannot be diagnosed; the message is one line for stderr."""


@dataclass(frozen=True)
class Dump:
    jobs: list[Job]
    pods: list[Pod]
    skipped: int  # objects of other kinds (Services, Events, …)


def _documents(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    index, length = 0, len(text)
    while True:
        while index < length and text[index].isspace():
            index += 1
        if index >= length:
            return
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise InputError(
                f"not JSON at line {error.lineno} column {error.colno}: {error.msg} "
                "(expected `kubectl get jobs,pods -o json` output)"
            ) from None
        except RecursionError:
            raise InputError("JSON nested too deeply to be a Kubernetes object") from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            raise InputError(f"unreadable JSON value: {str(error).split(';')[0]}") from None
        yield document


def _objects(document: object) -> Iterator[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        raise InputError(f"expected a JSON object, got {type(document).__name__}")
    kind = document.get("kind")
    if kind in LIST_KINDS:
        items = document.get("items")
        if not isinstance(items, list):
            raise InputError(f"{kind} has no items list")
        for item in items:
            if isinstance(item, Mapping):
                yield item
        return
    if kind in ("Job", "Pod"):
        yield document
        return
    shown = f"kind {kind!r}" if kind else "an object without a kind"
    raise InputError(f"expected a List, JobList, PodList or Job, got {shown}")


def load_dump(text: str) -> Dump:
    """Parse dump text into Jobs and Pods. Raises InputError with a one-line message."""
    if not text.strip():
        raise InputError("empty input: pipe `kubectl get jobs,pods -A -o json` in, or pass -f FILE")
    jobs: list[Job] = []
    pods: list[Pod] = []
    skipped = 0
    for document in _documents(text):
        for obj in _objects(document):
            kind = obj.get("kind")
            if kind == "Job":
                jobs.append(parse_job(obj))
            elif kind == "Pod":
                pods.append(parse_pod(obj))
            else:
                skipped += 1
    return Dump(jobs, pods, skipped)


def diagnose(
    dump: Dump, now: float, *, namespace: str | None = None, job: str | None = None
) -> list[JobReport]:
    by_job = pods_by_job(dump.pods)
    selected = [
        j
        for j in dump.jobs
        if (namespace is None or j.namespace == namespace) and (job is None or j.name == job)
    ]
    selected.sort(key=lambda j: (j.namespace, j.name))
    return [analyse(j, by_job.get(j.uid, []), now) for j in selected]


def read_bounded(stream: BinaryIO, limit: int = MAX_INPUT_BYTES) -> str:
    """At most `limit` bytes of UTF-8 text (`-f /dev/zero` must not read until MemoryError)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"input larger than {limit // (1024 * 1024)} MiB; filter the dump")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("input is not UTF-8 text") from None


def printable(text: str) -> str:
    """`text` without lone surrogates (JSON `\\ud800` escapes), which no terminal can encode."""
    return text.encode("utf-8", "replace").decode("utf-8")


def rfc3339(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    if not timestamp <= _LATEST:  # also NaN
        return LATEST_SHOWN
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # before year 1
        return "0001-01-01T00:00:00Z"


def report_to_json(report: JobReport) -> dict[str, Any]:
    """The stable JSON contract of `jobwatch diagnose -o json`, one Job."""
    exit_ = report.last_exit
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
        if report.stall is None
        else {"reason": report.stall.reason.value, "since": rfc3339(report.stall.since)},
        "next_retry_at": rfc3339(report.next_retry_at),
        "deadline_at": rfc3339(report.deadline_at),
        "advice": report.advice,
    }


def render_json(reports: Iterable[JobReport]) -> str:
    return json.dumps({"jobs": [report_to_json(r) for r in reports]}, indent=2) + "\n"


def _age(since: float | None, now: float) -> str:
    if since is None:
        return "?"
    seconds = max(int(now - since), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render_table(reports: list[JobReport], now: float) -> str:
    """One block per Job: a headline, then the facts that explain it and what to do."""
    if not reports:
        return "no Jobs found\n"
    lines: list[str] = []
    for r in reports:
        owner = f"  (CronJob {r.cronjob})" if r.cronjob else ""
        reason = f" {r.reason}" if r.reason else ""
        lines.append(f"{r.namespace}/{r.name}{owner}: {r.state.value.upper()}{reason}")
        if r.attempts is not None:
            a = r.attempts
            lines.append(f"  attempts  {a.used} used / {a.limit} limit / {a.remaining} remaining")
        if r.last_exit is not None:
            e = r.last_exit
            lines.append(
                f"  last exit {e.code} ({e.reason or 'no reason'}) in {e.pod}/{e.container}: "
                f"{e.meaning}"
            )
        if r.hidden_failures:
            hidden = ", ".join(f"{h.kind.value}={h.count}" for h in r.hidden_failures)
            lines.append(f"  hidden    {hidden}")
        if r.stall is not None:
            lines.append(f"  stalled   {r.stall.reason.value} for {_age(r.stall.since, now)}")
        if r.next_retry_at is not None and r.next_retry_at > now:
            lines.append(f"  next pod  in {_age(now, r.next_retry_at)} (pod-recreation backoff)")
        if r.deadline_at is not None:
            lines.append(f"  deadline  {rfc3339(r.deadline_at)}")
        lines.append(f"  advice    {r.advice}")
        lines.append("")
    return printable("\n".join(lines))
