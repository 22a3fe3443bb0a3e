"""The /metrics body: exact golden text, uniqueness, both parsers, promtool, and coverage of
every family `metrics.py` declares (§n: docs/job-semantics.md).

The golden texts are written out by hand from the fixtures and checked against the spec: each
value's source is in the comment above it. Times are from `tests/builders.py` (T0 = 2026-05-04
10:00:00Z = 1777888800).
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections import Counter
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from jobwatch import exposition as ex
from jobwatch import metrics, negotiation
from jobwatch.analysis.report import ContainerFailure, HiddenCount
from jobwatch.state import ExporterState
from jobwatch.vocabulary import Cause, HiddenFailure
from tests.builders import T0_EPOCH
from tests.exporter import scenarios
from tests.tools import tool

Obj = dict[str, Any]


def state_of(runs: list[tuple[Obj, list[Obj]]], now: float = scenarios.NOW) -> ExporterState:
    state = ExporterState(clock=lambda: now)
    for job, pods in runs:
        state.apply("jobs", "ADDED", job)
        for pod in pods:
            state.apply("pods", "ADDED", pod)
    return state


def objects_part(state: ExporterState, openmetrics: bool = False) -> str:
    """The body up to the exporter's self-metrics (which carry versions and timings)."""
    text = state.exposition(openmetrics).decode()
    return text[: text.index("# HELP jobwatch_exporter_")]


def fixture_run(name: str) -> tuple[Obj, list[Obj]]:
    data = scenarios.fixture(name)
    return data["job"], data["pods"]


# --- golden -------------------------------------------------------------------------------

# oomkilled_137: restartPolicy Never, backoffLimit 0, one pod OOMKilled (137) at 12:00:08;
# Failed/BackoffLimitExceeded at 12:00:09 (§1.2: Never fails on *exceeding*: 1 > 0).
GOLDEN_OOM = """\
# HELP jobwatch_job_info Static facts about a Job: pod restart policy and completion mode.
# TYPE jobwatch_job_info gauge
jobwatch_job_info{namespace="mem-example",job_name="memory-demo-2",cronjob="",restart_policy="Never",completion_mode="NonIndexed"} 1
# HELP jobwatch_job_state The Job's current state, one series per Job; reason is the condition or stall reason.
# TYPE jobwatch_job_state gauge
jobwatch_job_state{namespace="mem-example",job_name="memory-demo-2",cronjob="",state="failed",reason="BackoffLimitExceeded"} 1
# HELP jobwatch_job_attempts_used Failures counted against the backoff limit, as the Job controller counts them.
# TYPE jobwatch_job_attempts_used gauge
jobwatch_job_attempts_used{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 1
# HELP jobwatch_job_attempts_limit The backoff limit: spec.backoffLimit, or backoffLimitPerIndex for per-index Jobs.
# TYPE jobwatch_job_attempts_limit gauge
jobwatch_job_attempts_limit{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 0
# HELP jobwatch_job_attempts_remaining Failures the Job can still absorb; 0 on a running Job means the current attempt is the last.
# TYPE jobwatch_job_attempts_remaining gauge
jobwatch_job_attempts_remaining{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 0
# HELP jobwatch_job_last_exit_code Exit code of the most recent failed container termination (or the last exit 0 if none failed).
# TYPE jobwatch_job_last_exit_code gauge
jobwatch_job_last_exit_code{namespace="mem-example",job_name="memory-demo-2",cronjob="",container="memory-demo-2-ctr",reason="OOMKilled",cause="oom_killed"} 137
# HELP jobwatch_job_last_exit_timestamp_seconds When the container in jobwatch_job_last_exit_code terminated.
# TYPE jobwatch_job_last_exit_timestamp_seconds gauge
jobwatch_job_last_exit_timestamp_seconds{namespace="mem-example",job_name="memory-demo-2",cronjob="",cause="oom_killed"} 1777896008
# HELP jobwatch_job_last_failure_timestamp_seconds Latest failed container termination per cause, across the Job's pods.
# TYPE jobwatch_job_last_failure_timestamp_seconds gauge
jobwatch_job_last_failure_timestamp_seconds{namespace="mem-example",job_name="memory-demo-2",cronjob="",cause="oom_killed"} 1777896008
# HELP jobwatch_job_start_timestamp_seconds status.startTime of the Job.
# TYPE jobwatch_job_start_timestamp_seconds gauge
jobwatch_job_start_timestamp_seconds{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 1777896000
# HELP jobwatch_job_finish_timestamp_seconds When the Job finished, successfully or not (the terminal condition's transition time).
# TYPE jobwatch_job_finish_timestamp_seconds gauge
jobwatch_job_finish_timestamp_seconds{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 1777896009
# HELP jobwatch_job_container_restarts Sum of restartCount over the init, sidecar and regular containers of the Job's pods.
# TYPE jobwatch_job_container_restarts gauge
jobwatch_job_container_restarts{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 0
# HELP jobwatch_job_failures_total Jobs that reached a failed state, by reason.
# TYPE jobwatch_job_failures_total counter
jobwatch_job_failures_total{namespace="mem-example",cronjob="",reason="BackoffLimitExceeded"} 1
# HELP jobwatch_container_failures_total Failed container terminations seen in Job pods, by cause.
# TYPE jobwatch_container_failures_total counter
jobwatch_container_failures_total{namespace="mem-example",cronjob="",cause="oom_killed"} 1
"""

# imagepullbackoff_stall: running since 15:00:00, its only pod waits in ImagePullBackOff, which
# never counts against backoffLimit (§4): stalled since the pod became not-ready (15:00:00).
# backoffLimit 0 and no failure yet: 0 remaining, the current attempt is the last.
GOLDEN_STALL = """\
# HELP jobwatch_job_info Static facts about a Job: pod restart policy and completion mode.
# TYPE jobwatch_job_info gauge
jobwatch_job_info{namespace="default",job_name="invalid-image",cronjob="",restart_policy="Never",completion_mode="NonIndexed"} 1
# HELP jobwatch_job_state The Job's current state, one series per Job; reason is the condition or stall reason.
# TYPE jobwatch_job_state gauge
jobwatch_job_state{namespace="default",job_name="invalid-image",cronjob="",state="stalled",reason="image_pull"} 1
# HELP jobwatch_job_attempts_used Failures counted against the backoff limit, as the Job controller counts them.
# TYPE jobwatch_job_attempts_used gauge
jobwatch_job_attempts_used{namespace="default",job_name="invalid-image",cronjob=""} 0
# HELP jobwatch_job_attempts_limit The backoff limit: spec.backoffLimit, or backoffLimitPerIndex for per-index Jobs.
# TYPE jobwatch_job_attempts_limit gauge
jobwatch_job_attempts_limit{namespace="default",job_name="invalid-image",cronjob=""} 0
# HELP jobwatch_job_attempts_remaining Failures the Job can still absorb; 0 on a running Job means the current attempt is the last.
# TYPE jobwatch_job_attempts_remaining gauge
jobwatch_job_attempts_remaining{namespace="default",job_name="invalid-image",cronjob=""} 0
# HELP jobwatch_job_stalled_since_timestamp_seconds Since when the Job has been blocked by a condition that never counts against backoffLimit.
# TYPE jobwatch_job_stalled_since_timestamp_seconds gauge
jobwatch_job_stalled_since_timestamp_seconds{namespace="default",job_name="invalid-image",cronjob="",reason="image_pull"} 1777906800
# HELP jobwatch_job_start_timestamp_seconds status.startTime of the Job.
# TYPE jobwatch_job_start_timestamp_seconds gauge
jobwatch_job_start_timestamp_seconds{namespace="default",job_name="invalid-image",cronjob=""} 1777906800
# HELP jobwatch_job_container_restarts Sum of restartCount over the init, sidecar and regular containers of the Job's pods.
# TYPE jobwatch_job_container_restarts gauge
jobwatch_job_container_restarts{namespace="default",job_name="invalid-image",cronjob=""} 0
"""

# scenarios.cron_succeeded_with_hidden_failure: CronJob "nightly", Never, backoffLimit 6; pod a
# exits 1 at T0+5, pod b exits 0 at T0+20; Complete at T0+31 (completionTime). One failed pod
# before success is hidden (§5.3). The last *failed* exit wins over the later exit 0.
GOLDEN_CRON = """\
# HELP jobwatch_job_info Static facts about a Job: pod restart policy and completion mode.
# TYPE jobwatch_job_info gauge
jobwatch_job_info{namespace="default",job_name="nightly-29620477",cronjob="nightly",restart_policy="Never",completion_mode="NonIndexed"} 1
# HELP jobwatch_job_state The Job's current state, one series per Job; reason is the condition or stall reason.
# TYPE jobwatch_job_state gauge
jobwatch_job_state{namespace="default",job_name="nightly-29620477",cronjob="nightly",state="succeeded",reason="CompletionsReached"} 1
# HELP jobwatch_job_attempts_used Failures counted against the backoff limit, as the Job controller counts them.
# TYPE jobwatch_job_attempts_used gauge
jobwatch_job_attempts_used{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 1
# HELP jobwatch_job_attempts_limit The backoff limit: spec.backoffLimit, or backoffLimitPerIndex for per-index Jobs.
# TYPE jobwatch_job_attempts_limit gauge
jobwatch_job_attempts_limit{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 6
# HELP jobwatch_job_attempts_remaining Failures the Job can still absorb; 0 on a running Job means the current attempt is the last.
# TYPE jobwatch_job_attempts_remaining gauge
jobwatch_job_attempts_remaining{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 5
# HELP jobwatch_job_last_exit_code Exit code of the most recent failed container termination (or the last exit 0 if none failed).
# TYPE jobwatch_job_last_exit_code gauge
jobwatch_job_last_exit_code{namespace="default",job_name="nightly-29620477",cronjob="nightly",container="main",reason="Error",cause="app_error"} 1
# HELP jobwatch_job_last_exit_timestamp_seconds When the container in jobwatch_job_last_exit_code terminated.
# TYPE jobwatch_job_last_exit_timestamp_seconds gauge
jobwatch_job_last_exit_timestamp_seconds{namespace="default",job_name="nightly-29620477",cronjob="nightly",cause="app_error"} 1777888805
# HELP jobwatch_job_last_failure_timestamp_seconds Latest failed container termination per cause, across the Job's pods.
# TYPE jobwatch_job_last_failure_timestamp_seconds gauge
jobwatch_job_last_failure_timestamp_seconds{namespace="default",job_name="nightly-29620477",cronjob="nightly",cause="app_error"} 1777888805
# HELP jobwatch_job_hidden_failures Failures hidden behind a success or a Completed status, by kind.
# TYPE jobwatch_job_hidden_failures gauge
jobwatch_job_hidden_failures{namespace="default",job_name="nightly-29620477",cronjob="nightly",kind="failed_pods_before_success"} 1
# HELP jobwatch_job_start_timestamp_seconds status.startTime of the Job.
# TYPE jobwatch_job_start_timestamp_seconds gauge
jobwatch_job_start_timestamp_seconds{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 1777888800
# HELP jobwatch_job_finish_timestamp_seconds When the Job finished, successfully or not (the terminal condition's transition time).
# TYPE jobwatch_job_finish_timestamp_seconds gauge
jobwatch_job_finish_timestamp_seconds{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 1777888831
# HELP jobwatch_job_container_restarts Sum of restartCount over the init, sidecar and regular containers of the Job's pods.
# TYPE jobwatch_job_container_restarts gauge
jobwatch_job_container_restarts{namespace="default",job_name="nightly-29620477",cronjob="nightly"} 0
# HELP jobwatch_cronjob_last_run_state State of the CronJob's most recent finished or running Job.
# TYPE jobwatch_cronjob_last_run_state gauge
jobwatch_cronjob_last_run_state{namespace="default",cronjob="nightly",state="succeeded",reason="CompletionsReached"} 1
# HELP jobwatch_cronjob_last_success_timestamp_seconds When a Job of this CronJob last succeeded.
# TYPE jobwatch_cronjob_last_success_timestamp_seconds gauge
jobwatch_cronjob_last_success_timestamp_seconds{namespace="default",cronjob="nightly"} 1777888831
# HELP jobwatch_cronjob_first_seen_timestamp_seconds Start of the oldest run jobwatch has seen for this CronJob (for 'never succeeded' alerts).
# TYPE jobwatch_cronjob_first_seen_timestamp_seconds gauge
jobwatch_cronjob_first_seen_timestamp_seconds{namespace="default",cronjob="nightly"} 1777888800
# HELP jobwatch_cronjob_consecutive_failures Failed runs since the last successful one.
# TYPE jobwatch_cronjob_consecutive_failures gauge
jobwatch_cronjob_consecutive_failures{namespace="default",cronjob="nightly"} 0
# HELP jobwatch_container_failures_total Failed container terminations seen in Job pods, by cause.
# TYPE jobwatch_container_failures_total counter
jobwatch_container_failures_total{namespace="default",cronjob="nightly",cause="app_error"} 1
"""


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        pytest.param(fixture_run("oomkilled_137"), GOLDEN_OOM, id="failed-never-oomkilled-137"),
        pytest.param(fixture_run("imagepullbackoff_stall"), GOLDEN_STALL, id="stalled-image-pull"),
        pytest.param(
            scenarios.cron_succeeded_with_hidden_failure(), GOLDEN_CRON, id="cronjob-hidden"
        ),
    ],
)
def test_golden_text(run: tuple[Obj, list[Obj]], expected: str) -> None:
    assert objects_part(state_of([run])) == expected


def test_golden_openmetrics_counters_and_units() -> None:
    """OpenMetrics: UNIT for `_seconds` families, counters named without `_total` in HELP/TYPE
    with `_total` and `_created` samples (created = when the series first appeared), `# EOF`."""
    state = state_of([fixture_run("oomkilled_137")], now=T0_EPOCH + 100)
    text = state.exposition(openmetrics=True).decode()
    assert text.endswith("jobwatch_exporter_render_seconds_created 1777888900\n# EOF\n")
    assert (
        "# HELP jobwatch_job_start_timestamp_seconds status.startTime of the Job.\n"
        "# TYPE jobwatch_job_start_timestamp_seconds gauge\n"
        "# UNIT jobwatch_job_start_timestamp_seconds seconds\n"
        'jobwatch_job_start_timestamp_seconds{namespace="mem-example",job_name="memory-demo-2",cronjob=""} 1777896000\n'
    ) in text
    assert (
        "# HELP jobwatch_job_failures Jobs that reached a failed state, by reason.\n"
        "# TYPE jobwatch_job_failures counter\n"
        'jobwatch_job_failures_total{namespace="mem-example",cronjob="",reason="BackoffLimitExceeded"} 1\n'
        'jobwatch_job_failures_created{namespace="mem-example",cronjob="",reason="BackoffLimitExceeded"} 1777888900\n'
        "# HELP jobwatch_container_failures Failed container terminations seen in Job pods, by cause.\n"
        "# TYPE jobwatch_container_failures counter\n"
        'jobwatch_container_failures_total{namespace="mem-example",cronjob="",cause="oom_killed"} 1\n'
        'jobwatch_container_failures_created{namespace="mem-example",cronjob="",cause="oom_killed"} 1777888900\n'
    ) in text
    # The per-Job sample lines are the same bytes in both formats.
    job_lines = [line for line in text.splitlines() if line.startswith("jobwatch_job_")]
    plain = state.exposition(openmetrics=False).decode().splitlines()
    assert [line for line in job_lines if "_failures_" not in line] == [
        line for line in plain if line.startswith("jobwatch_job_") and "_failures_" not in line
    ]


# --- whole-output properties --------------------------------------------------------------


def rich_state() -> ExporterState:
    state = state_of(scenarios.rich())
    assert state.reports()  # analysed (and counted) before the informers register: no baseline
    for resource in ("jobs", "pods"):
        state.telemetry.expect(resource, None)
        state.telemetry.synced(resource, None)
        state.telemetry.heartbeat(resource, T0_EPOCH + 11)
        state.telemetry.request(resource, "list", "ok")
        state.telemetry.event(resource, "ADDED")
    return state


def samples(text: str) -> list[str]:
    return [line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_no_series_twice_across_all_fixtures(openmetrics: bool) -> None:
    series = samples(rich_state().exposition(openmetrics).decode())
    assert [s for s, n in Counter(series).items() if n > 1] == []


def test_one_state_series_per_job() -> None:
    state = rich_state()
    text = state.exposition(False).decode()
    states = [s for s in samples(text) if s.startswith(metrics.JOB_STATE.name + "{")]
    assert len(states) == len(state.reports()) == len(scenarios.rich())


def test_families_contiguous_with_one_header_each() -> None:
    text = rich_state().exposition(False).decode()
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]
    assert len(helps) == len(set(helps))
    seen: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            family = metrics.BY_NAME.get(name) or metrics.BY_NAME[name.rsplit("_", 1)[0]]
            if not seen or seen[-1] != family.name:
                assert family.name not in seen, f"{family.name} is split"
                seen.append(family.name)


def test_text_parses_with_prometheus_client() -> None:
    families = {f.name: f for f in parse_text(rich_state().exposition(False).decode())}
    assert families[metrics.JOB_STATE.name].type == "gauge"
    assert families["jobwatch_job_failures"].type == "counter"
    assert families[metrics.EXPORTER_RENDER_SECONDS.name].type == "summary"


def test_openmetrics_parses_with_prometheus_client() -> None:
    families = {f.name: f for f in parse_openmetrics(rich_state().exposition(True).decode())}
    assert families[metrics.JOB_START.name].unit == "seconds"
    created = [s for s in families["jobwatch_job_failures"].samples if s.name.endswith("_created")]
    assert created
    assert all(s.value == scenarios.NOW for s in created)


def test_promtool_check_metrics_accepts_text() -> None:
    tool("promtool")
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=rich_state().exposition(False),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode() + result.stderr.decode() == ""  # no lint warnings either


def test_every_declared_family_is_emitted() -> None:
    names = {f.name for f in parse_openmetrics(rich_state().exposition(True).decode())}
    missing = [m.name for m in metrics.ALL if m.name.removesuffix("_total") not in names]
    assert missing == []


# --- rendering rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
    ],
)
def test_label_values_are_escaped(raw: str, escaped: str) -> None:
    assert ex.escape_label(raw) == escaped


def test_escaped_label_parses_back_and_unknown_reasons_are_other() -> None:
    job, pods = fixture_run("oomkilled_137")
    job["metadata"]["name"] = 'We"ird\\\nName'
    for c in job["status"]["conditions"]:
        c["reason"] = 'We"ird\\\nReason' + "x" * 10_000
    text = objects_part(state_of([(job, pods)]))
    state_family = next(f for f in parse_text(text) if f.name == metrics.JOB_STATE.name)
    assert state_family.samples[0].labels["job_name"] == 'We"ird\\\nName'
    assert state_family.samples[0].labels["reason"] == "other"  # free text never a label


def test_label_values_are_capped_and_lone_surrogates_replaced() -> None:
    assert len(ex.escape_label("n" * 5000)) == ex.MAX_LABEL_CHARS
    assert ex.escape_label("a\ud800b") == "a?b"
    job, pods = fixture_run("oomkilled_137")
    job["metadata"]["name"] = "j\udfff" + "y" * 1_000_000
    text = objects_part(state_of([(job, pods)]))  # encodes: no UnicodeEncodeError
    assert max(len(line) for line in text.splitlines()) < 2 * 1024


def test_duplicate_kinds_and_causes_render_one_series_each() -> None:
    """hidden_failures sums per kind; last_failure_timestamp is the latest per cause."""
    state = state_of([fixture_run("oomkilled_137")])
    report = next(iter(state.reports().values()))
    report = dataclasses.replace(
        report,
        hidden_failures=(
            HiddenCount(HiddenFailure.SIDECAR_FAILURES, 1),
            HiddenCount(HiddenFailure.SIDECAR_FAILURES, 2),
        ),
        failures=(
            ContainerFailure("p1", "c", 0, Cause.APP_ERROR, 10.0),
            ContainerFailure("p2", "c", 0, Cause.APP_ERROR, 30.0),
            ContainerFailure("p3", "c", 0, Cause.APP_ERROR, 20.0),
            ContainerFailure("p4", "c", 0, Cause.APP_ERROR, None),
        ),
    )
    fragments = ex.render_job(report)
    assert (
        fragments[metrics.JOB_HIDDEN_FAILURES.name]
        .decode()
        .endswith('kind="sidecar_failures"} 3\n')
    )
    assert (
        fragments[metrics.JOB_LAST_FAILURE_TIMESTAMP.name]
        .decode()
        .endswith('cause="app_error"} 30\n')
    )
    assert fragments[metrics.JOB_LAST_FAILURE_TIMESTAMP.name].count(b"\n") == 1


def test_absent_when_unknown() -> None:
    """attempts are absent for externally managed Jobs; a stall without any time is absent."""
    state = state_of([fixture_run("oomkilled_137")])
    report = next(iter(state.reports().values()))
    fragments = ex.render_job(dataclasses.replace(report, attempts=None, start_at=None))
    for family in (metrics.JOB_ATTEMPTS_USED, metrics.JOB_ATTEMPTS_LIMIT, metrics.JOB_START):
        assert family.name not in fragments


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (1777888800.0, "1777888800"), (0.25, "0.25"), (float("nan"), "NaN")],
)
def test_numbers(value: float, text: str) -> None:
    assert ex.number(value) == text


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        pytest.param(None, False, id="none"),
        pytest.param("*/*", False, id="any"),
        pytest.param("text/plain;version=0.0.4", False, id="text"),
        pytest.param(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            True,
            id="prometheus-2.42",
        ),
        pytest.param("application/openmetrics-text", True, id="openmetrics-unversioned"),
        pytest.param("application/openmetrics-text; version=2.0.0", False, id="unknown-version"),
        pytest.param(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9", False, id="prefers-text"
        ),
    ],
)
def test_negotiate(accept: str | None, openmetrics: bool) -> None:
    chosen, content_type = negotiation.negotiate(accept)
    assert chosen is openmetrics
    assert content_type == (
        negotiation.OPENMETRICS_CONTENT_TYPE if openmetrics else negotiation.TEXT_CONTENT_TYPE
    )
