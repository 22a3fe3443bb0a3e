"""Prometheus text 0.0.4 and OpenMetrics 1.0.0 exposition, rendered from `metrics.py`.

Only the format: pure functions from reports and values to bytes. Which format a client gets is
`jobwatch.negotiation`'s; what is kept between scrapes is `jobwatch.state`'s. A Job (or CronJob) renders to `Fragments`: its sample lines per family, which do
not depend on the format (only headers, counters and `# EOF` differ). The store keeps fragments
per object and re-renders them only when the object changes; a scrape then only joins bytes
(design principle 4). Values that change with time are exported as timestamps, so the
fragments stay valid between events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from jobwatch import metrics as m
from jobwatch import vocabulary as v
from jobwatch.analysis.report import CronJobStatus, JobReport
from jobwatch.metrics import Metric

# Every label value is cut to this many characters (Kubernetes names are at most 253).
MAX_LABEL_CHARS = 253
# Sample lines of one object, by family name. Each value ends with "\n".
Fragments = dict[str, bytes]
# One counter series: label values in the family's label order, value, creation time.
Series = tuple[tuple[str, ...], float, float]


# --- lines --------------------------------------------------------------------------------


def escape_label(value: str) -> str:
    """Escaped and bounded: at most MAX_LABEL_CHARS characters, lone surrogates replaced."""
    if len(value) > MAX_LABEL_CHARS:
        value = value[:MAX_LABEL_CHARS]
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """Shortest exact text for a sample value: integers without a fraction."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def sample(name: str, names: Sequence[str], values: Sequence[str], value: float) -> str:
    if not names:
        return f"{name} {number(value)}\n"
    pairs = ",".join(f'{k}="{escape_label(v)}"' for k, v in zip(names, values, strict=True))
    return f"{name}{{{pairs}}} {number(value)}\n"


def header(metric: Metric, openmetrics: bool) -> str:
    """HELP, TYPE (and UNIT in OpenMetrics) lines; OpenMetrics names a counter without `_total`."""
    name = metric.name
    if openmetrics and metric.type == "counter":
        name = name.removesuffix("_total")
    out = f"# HELP {name} {escape_help(metric.help)}\n# TYPE {name} {metric.type}\n"
    if openmetrics and metric.unit:
        out += f"# UNIT {name} {metric.unit}\n"
    return out


class _Lines:
    """Collects one object's samples per family, label values prefixed with the object's own."""

    def __init__(self, prefix: tuple[str, ...], names: Sequence[str]) -> None:
        self.prefix = prefix
        self.lines: dict[str, list[str]] = {}
        # The object's own label pairs, escaped once for all its samples.
        self._head = ",".join(
            f'{k}="{escape_label(v)}"' for k, v in zip(names, prefix, strict=True)
        )

    def add(self, metric: Metric, value: float, *extra: str) -> None:
        names = metric.labels[len(self.prefix) :]
        pairs = "".join(f',{k}="{escape_label(v)}"' for k, v in zip(names, extra, strict=True))
        line = f"{metric.name}{{{self._head}{pairs}}} {number(value)}\n"
        self.lines.setdefault(metric.name, []).append(line)

    def fragments(self) -> Fragments:
        return {name: "".join(lines).encode() for name, lines in self.lines.items()}


# --- per object ---------------------------------------------------------------------------


def _fast_number(value: float) -> str:
    """`number`, with the two cases a Job's samples nearly always are (an int, a timestamp that
    is a whole number of seconds) taken first."""
    kind: type = type(value)
    if kind is int:
        return str(value)
    if kind is float and value.is_integer() and -(2**53) < value < 2**53:
        return str(int(value))
    return number(value)


def _safe(values: Iterable[str]) -> frozenset[str]:
    """The values that `escape_label` leaves as they are: label values from a vocabulary."""
    return frozenset(value for value in values if escape_label(value) == value)


# Label values from the bounded vocabularies need no escaping: render_job skips it for them.
_VERBATIM = _safe(
    [
        v.OTHER,
        *v.RESTART_POLICIES,
        *v.COMPLETION_MODES,
        *v.JOB_REASONS,
        *v.EXIT_REASONS,
        *(
            member.value
            for enum in (v.State, v.Cause, v.HiddenFailure, v.StallReason)
            for member in enum
        ),
    ]
)


def _plain(text: str) -> bool:
    """True when `escape_label` would change nothing in `text` (but for its length bound)."""
    return text.isascii() and "\\" not in text and '"' not in text and "\n" not in text


def _label(value: str) -> str:
    return value if value in _VERBATIM else escape_label(value)


def _pieces(metric: Metric) -> tuple[str, ...]:
    """`,label="` for each label of a per-Job family after the Job's own."""
    assert metric.labels[: len(m.JOB_LABELS)] == m.JOB_LABELS
    return tuple(f',{k}="' for k in metric.labels[len(m.JOB_LABELS) :])


_NS, _JOB, _CRON = (f'{k}="' for k in m.JOB_LABELS)
_INFO, (_INFO_POLICY, _INFO_MODE) = m.JOB_INFO.name, _pieces(m.JOB_INFO)
_STATE, (_STATE_STATE, _STATE_REASON) = m.JOB_STATE.name, _pieces(m.JOB_STATE)
_EXIT_CODE, (_EXIT_CONTAINER, _EXIT_REASON, _EXIT_CAUSE) = (
    m.JOB_LAST_EXIT_CODE.name,
    _pieces(m.JOB_LAST_EXIT_CODE),
)
_EXIT_AT, (_EXIT_AT_CAUSE,) = m.JOB_LAST_EXIT_TIMESTAMP.name, _pieces(m.JOB_LAST_EXIT_TIMESTAMP)
_FAILURE_AT, (_FAILURE_AT_CAUSE,) = (
    m.JOB_LAST_FAILURE_TIMESTAMP.name,
    _pieces(m.JOB_LAST_FAILURE_TIMESTAMP),
)
_HIDDEN, (_HIDDEN_KIND,) = m.JOB_HIDDEN_FAILURES.name, _pieces(m.JOB_HIDDEN_FAILURES)
_STALLED, (_STALLED_REASON,) = m.JOB_STALLED_SINCE.name, _pieces(m.JOB_STALLED_SINCE)
_PLAIN = (  # families with the Job's own labels only
    m.JOB_ATTEMPTS_USED,
    m.JOB_ATTEMPTS_LIMIT,
    m.JOB_ATTEMPTS_REMAINING,
    m.JOB_FAILED_INDEXES,
    m.JOB_MAX_FAILED_INDEXES,
    m.JOB_NEXT_RETRY,
    m.JOB_DEADLINE,
    m.JOB_START,
    m.JOB_FINISH,
    m.JOB_CONTAINER_RESTARTS,
)
assert all(not _pieces(metric) for metric in _PLAIN)
(
    _USED,
    _LIMIT,
    _REMAINING,
    _FAILED_INDEXES,
    _MAX_FAILED_INDEXES,
    _NEXT_RETRY,
    _DEADLINE,
    _START,
    _FINISH,
    _RESTARTS,
) = (metric.name for metric in _PLAIN)


def _info_tail(restart_policy: str, completion_mode: str) -> str:
    policy = _label(v.bounded(restart_policy, v.RESTART_POLICIES))
    mode = _label(v.bounded(completion_mode, v.COMPLETION_MODES))
    return f'{_INFO_POLICY}{policy}"{_INFO_MODE}{mode}"}} 1\n'


def _state_tail(state: v.State, reason: str) -> str:
    bounded = _label(v.bounded(reason, v.JOB_REASONS))
    return f'{_STATE_STATE}{_label(state.value)}"{_STATE_REASON}{bounded}"}} 1\n'


# The info and state lines after the Job's own labels, for every value the vocabularies know
# (other values are written as `other`, by the functions above).
_INFO_TAILS = {
    (policy, mode): _info_tail(policy, mode)
    for policy in v.RESTART_POLICIES
    for mode in v.COMPLETION_MODES
}
_STATE_TAILS = {
    (state, reason): _state_tail(state, reason)
    for state in v.State
    for reason in v.JOB_REASONS | {stall.value for stall in v.StallReason}
}


def render_job(report: JobReport) -> Fragments:
    """All per-Job series of one Job. No (name, labels) pair twice.

    The same lines `sample` would write for each family of `metrics.py`, written out family by
    family because this runs for every changed Job (issue 12): the Job's own label pairs are
    escaped once, vocabulary values are never escaped (they need not be), and each line is one
    f-string. `tests/test_analysis_fast.py` holds it to the generic `_Lines` rendering.
    """
    namespace, name, cronjob = report.namespace, report.name, report.cronjob
    if not _plain(namespace + name + cronjob) or max(len(namespace), len(name), len(cronjob)) > (
        MAX_LABEL_CHARS
    ):
        namespace, name, cronjob = (
            escape_label(namespace),
            escape_label(name),
            escape_label(cronjob),
        )
    head = f'{{{_NS}{namespace}",{_JOB}{name}",{_CRON}{cronjob}"'
    out: Fragments = {}
    info = _INFO_TAILS.get((report.restart_policy, report.completion_mode))
    if info is None:
        info = _info_tail(report.restart_policy, report.completion_mode)
    out[_INFO] = f"{_INFO}{head}{info}".encode()
    state = _STATE_TAILS.get((report.state, report.reason))
    if state is None:
        state = _state_tail(report.state, report.reason)
    out[_STATE] = f"{_STATE}{head}{state}".encode()
    if (a := report.attempts) is not None:
        out[_USED] = f"{_USED}{head}}} {_fast_number(a.used)}\n".encode()
        out[_LIMIT] = f"{_LIMIT}{head}}} {_fast_number(a.limit)}\n".encode()
        out[_REMAINING] = f"{_REMAINING}{head}}} {_fast_number(a.remaining)}\n".encode()
    if report.failed_indexes is not None:
        value = _fast_number(report.failed_indexes)
        out[_FAILED_INDEXES] = f"{_FAILED_INDEXES}{head}}} {value}\n".encode()
    if report.max_failed_indexes is not None:
        value = _fast_number(report.max_failed_indexes)
        out[_MAX_FAILED_INDEXES] = f"{_MAX_FAILED_INDEXES}{head}}} {value}\n".encode()
    if (e := report.last_exit) is not None:
        reason = _label(v.bounded(e.reason or "", v.EXIT_REASONS))
        cause = _label(e.cause.value)
        out[_EXIT_CODE] = (
            f'{_EXIT_CODE}{head}{_EXIT_CONTAINER}{escape_label(e.container)}"'
            f'{_EXIT_REASON}{reason}"{_EXIT_CAUSE}{cause}"}} {_fast_number(e.code)}\n'
        ).encode()
        if e.finished_at is not None:
            value = _fast_number(e.finished_at)
            out[_EXIT_AT] = f'{_EXIT_AT}{head}{_EXIT_AT_CAUSE}{cause}"}} {value}\n'.encode()
    if report.failures:
        latest: dict[str, float] = {}
        for f in report.failures:
            if f.finished_at is not None:
                latest[f.cause.value] = max(latest.get(f.cause.value, f.finished_at), f.finished_at)
        if latest:
            out[_FAILURE_AT] = "".join(
                f'{_FAILURE_AT}{head}{_FAILURE_AT_CAUSE}{_label(cause)}"}} '
                f"{_fast_number(latest[cause])}\n"
                for cause in sorted(latest)
            ).encode()
    if report.hidden_failures:
        hidden: dict[str, int] = {}
        for h in report.hidden_failures:
            hidden[h.kind.value] = hidden.get(h.kind.value, 0) + h.count
        out[_HIDDEN] = "".join(
            f'{_HIDDEN}{head}{_HIDDEN_KIND}{_label(kind)}"}} {_fast_number(hidden[kind])}\n'
            for kind in sorted(hidden)
        ).encode()
    if (s := report.stall) is not None:
        since = s.since if s.since is not None else report.start_at
        if since is not None:
            value = _fast_number(since)
            reason = _label(s.reason.value)
            out[_STALLED] = f'{_STALLED}{head}{_STALLED_REASON}{reason}"}} {value}\n'.encode()
    if (at := report.next_retry_at) is not None:
        out[_NEXT_RETRY] = f"{_NEXT_RETRY}{head}}} {_fast_number(at)}\n".encode()
    if (at := report.deadline_at) is not None:
        out[_DEADLINE] = f"{_DEADLINE}{head}}} {_fast_number(at)}\n".encode()
    if (at := report.start_at) is not None:
        out[_START] = f"{_START}{head}}} {_fast_number(at)}\n".encode()
    if (at := report.finish_at) is not None:
        out[_FINISH] = f"{_FINISH}{head}}} {_fast_number(at)}\n".encode()
    restarts = report.container_restarts
    value = str(restarts) if type(restarts) is int else _fast_number(restarts)
    out[_RESTARTS] = f"{_RESTARTS}{head}}} {value}\n".encode()
    return out


def render_cronjob(status: CronJobStatus) -> Fragments:
    out = _Lines((status.namespace, status.cronjob), m.CRONJOB_LABELS)
    reason = v.bounded(status.last_reason, v.JOB_REASONS)
    out.add(m.CRONJOB_LAST_RUN_STATE, 1, status.last_state, reason)
    if status.last_success_at is not None:
        out.add(m.CRONJOB_LAST_SUCCESS, status.last_success_at)
    if status.last_failure_at is not None:
        out.add(m.CRONJOB_LAST_FAILURE, status.last_failure_at)
    if status.first_seen_at is not None:
        out.add(m.CRONJOB_FIRST_SEEN, status.first_seen_at)
    out.add(m.CRONJOB_CONSECUTIVE_FAILURES, status.consecutive_failures)
    return out.fragments()


# --- families -----------------------------------------------------------------------------


def family(metric: Metric, fragments: Iterable[Fragments], openmetrics: bool) -> bytes:
    """One family from many objects' fragments; empty when no object has a sample in it."""
    body = b"".join(f[metric.name] for f in fragments if metric.name in f)
    return header(metric, openmetrics).encode() + body if body else b""


def families(metrics: Sequence[Metric], fragments: Sequence[Fragments], openmetrics: bool) -> bytes:
    return b"".join(family(metric, fragments, openmetrics) for metric in metrics)


def joined_families(
    metrics: Sequence[Metric], samples: Mapping[str, bytes], openmetrics: bool
) -> bytes:
    """Families whose samples are already joined across objects (`samples` by family name)."""
    return b"".join(
        header(metric, openmetrics).encode() + body
        for metric in metrics
        if (body := samples.get(metric.name))
    )


def counter(metric: Metric, series: Iterable[Series], openmetrics: bool) -> bytes:
    """A counter family; OpenMetrics adds a `_created` sample per series."""
    lines: list[str] = []
    base = metric.name.removesuffix("_total")
    for labels, value, created in sorted(series, key=lambda s: s[0]):
        lines.append(sample(metric.name, metric.labels, labels, value))
        if openmetrics:
            lines.append(sample(f"{base}_created", metric.labels, labels, created))
    return (header(metric, openmetrics) + "".join(lines)).encode() if lines else b""


def gauge(metric: Metric, series: Mapping[tuple[str, ...], float], openmetrics: bool) -> bytes:
    lines = [sample(metric.name, metric.labels, k, v) for k, v in sorted(series.items())]
    return (header(metric, openmetrics) + "".join(lines)).encode() if lines else b""


def summary(metric: Metric, total: float, count: int, created: float, openmetrics: bool) -> bytes:
    """A summary without quantiles: `_sum`, `_count` (and `_created` in OpenMetrics)."""
    text = header(metric, openmetrics)
    text += sample(f"{metric.name}_sum", (), (), total)
    text += sample(f"{metric.name}_count", (), (), count)
    if openmetrics:
        text += sample(f"{metric.name}_created", (), (), created)
    return text.encode()


def finish(parts: Iterable[bytes], openmetrics: bool) -> bytes:
    body = b"".join(parts)
    return body + b"# EOF\n" if openmetrics else body
