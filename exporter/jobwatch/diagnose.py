"""`jobwatch diagnose`: explain a `kubectl get jobs,pods -o json` dump offline.

Input: a v1 List (`kubectl get jobs,pods -A -o json`), a JobList or PodList, a single Job, or
several such documents one after another (`kubectl get jobs -o json; kubectl get pods -o json`).
Documents may repeat objects (the same dump pasted twice); each object counts once, by uid.
The JSON output is the stable contract of `jobwatch.status`, the same the exporter's /jobs.json
serves. The table escapes control characters, so a name cannot forge terminal lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from jobwatch.analysis import JobReport, analyse, pods_by_job
from jobwatch.model import Job, Pod, parse_job, parse_pod
from jobwatch.status import LATEST_SHOWN, Query, cronjob_statuses, document, rfc3339, trouble

__all__ = [
    "LATEST_SHOWN",
    "Dump",
    "InputError",
    "diagnose",
    "load_dump",
    "printable",
    "read_bounded",
    "render_json",
    "render_table",
    "rfc3339",
]

LIST_KINDS = frozenset({"List", "JobList", "PodList"})
MAX_INPUT_BYTES = 256 * 1024 * 1024  # a 50k-pod `kubectl get -o json` dump is about 1 GB/20


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
    jobs: dict[str, Job] = {}
    pods: dict[str, Pod] = {}
    skipped = 0
    for doc in _documents(text):
        for obj in _objects(doc):
            kind = obj.get("kind")
            if kind == "Job":
                j = parse_job(obj)
                jobs[_identity(j)] = j
            elif kind == "Pod":
                p = parse_pod(obj)
                pods[_identity(p)] = p
            else:
                skipped += 1
    return Dump(list(jobs.values()), list(pods.values()), skipped)


def _identity(obj: Job | Pod) -> str:
    """The uid; an object without one (hand-written input) by namespace and name."""
    return obj.uid or f"{obj.namespace}/{obj.name}"


def diagnose(
    dump: Dump,
    now: float,
    *,
    namespace: str | None = None,
    job: str | None = None,
    cronjob: str | None = None,
) -> list[JobReport]:
    """Reports of the selected Jobs, sorted by namespace and name."""
    by_job = pods_by_job(dump.pods)
    query = Query(namespace=namespace, job=job, cronjob=cronjob)
    reports = [analyse(j, by_job.get(j.uid, []), now) for j in dump.jobs]
    selected = (r for r in reports if query.matches(r, trouble(r)))
    return sorted(selected, key=lambda r: (r.namespace, r.name))


def render_json(dump: Dump, reports: list[JobReport], now: float) -> str:
    """`jobwatch.status.document` for these reports, with CronJob health from their runs.
    ASCII escapes keep lone surrogates (JSON `\\ud800`) printable."""
    created = {j.uid: j.created_at for j in dump.jobs}
    body = document(reports, cronjob_statuses(reports, created), now)
    return json.dumps(body, indent=2) + "\n"


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
    """`text` safe for a terminal: control and other non-printing characters escaped
    (\\x1b, \\x0d, \\u2028), and lone surrogates (JSON `\\ud800`) replaced."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
        for c in text
    )


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
    return "\n".join(printable(line) for line in lines)
