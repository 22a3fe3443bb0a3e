"""ExporterState as the informers drive it: Replace and watch events, deletions, malformed
objects, once-only counters, CronJob history, lazy re-analysis and time-driven resync."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from jobwatch import metrics
from jobwatch.state import ExporterState
from jobwatch.state.store import PARSERS
from jobwatch.vocabulary import State
from tests.builders import T0_EPOCH
from tests.exporter import scenarios

Obj = dict[str, Any]


class Clock:
    def __init__(self, now: float = scenarios.NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def load(state: ExporterState, *runs: tuple[Obj, list[Obj]]) -> None:
    for job, pods in runs:
        state.apply("jobs", "ADDED", job)
        for pod in pods:
            state.apply("pods", "ADDED", pod)


def text(state: ExporterState) -> str:
    return state.exposition(False).decode()


def value(exporter: ExporterState, name: str, **labels: str) -> float | None:
    """The value of the one sample of `name` whose labels include `labels`."""
    found = []
    for line in text(exporter).splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, number = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                found.append(float(number))
    assert len(found) <= 1, found
    return found[0] if found else None


def job_names(state: ExporterState) -> set[str]:
    return {r.name for r in state.reports().values()}


def in_namespace(run: tuple[Obj, list[Obj]], namespace: str) -> tuple[Obj, list[Obj]]:
    job, pods = copy.deepcopy(run)
    for obj in (job, *pods):
        obj["metadata"]["namespace"] = namespace
    return job, pods


# --- Sink -------------------------------------------------------------------------------------


def test_deleted_job_series_are_gone_at_next_scrape() -> None:
    state = ExporterState(clock=Clock())
    oom = scenarios.fixture("oomkilled_137")
    load(state, (oom["job"], oom["pods"]), scenarios.waiting_for_retry())
    assert "memory-demo-2" in text(state)
    state.apply("jobs", "DELETED", oom["job"])
    body = text(state)
    assert 'job_name="memory-demo-2"' not in body
    assert 'job_name="retrying"' in body
    # counters outlive the Job (principle 5)
    assert value(state, metrics.JOB_FAILURES_TOTAL.name, namespace="mem-example") == 1


def test_replace_drops_missing_objects_in_its_scope_only() -> None:
    state = ExporterState(clock=Clock())
    a = in_namespace(scenarios.waiting_for_retry(), "team-a")
    b = in_namespace(scenarios.per_index_job(), "team-b")
    load(state, a, b)
    assert job_names(state) == {"retrying", "indexed"}
    state.replace("jobs", "team-a", [])  # relist of team-a: its Job is gone
    assert job_names(state) == {"indexed"}
    assert value(state, metrics.EXPORTER_TRACKED_OBJECTS.name, resource="pods") == 2
    state.replace("pods", "team-b", [])
    assert value(state, metrics.EXPORTER_TRACKED_OBJECTS.name, resource="pods") == 1
    state.replace("jobs", None, [b[0]])
    state.replace("pods", None, b[1])
    assert job_names(state) == {"indexed"}
    assert value(state, metrics.EXPORTER_TRACKED_OBJECTS.name, resource="pods") == 1


def test_pods_may_arrive_before_their_job() -> None:
    state = ExporterState(clock=Clock())
    job, pods = (
        scenarios.fixture("oomkilled_137")["job"],
        scenarios.fixture("oomkilled_137")["pods"],
    )
    state.replace("pods", None, pods)
    assert state.reports() == {}
    state.replace("jobs", None, [job])
    report = state.reports()[job["metadata"]["uid"]]
    assert report.last_exit is not None
    assert report.last_exit.code == 137


def test_the_last_exit_stays_when_the_pods_that_showed_it_are_deleted() -> None:
    state = ExporterState(clock=Clock())
    oom = scenarios.fixture("oomkilled_137")
    load(state, (oom["job"], oom["pods"]))
    exit_code = metrics.JOB_LAST_EXIT_CODE.name
    assert value(state, exit_code, job_name="memory-demo-2", cause="oom_killed") == 137
    for pod in oom["pods"]:  # e.g. the controller deleted them, or `kubectl delete pod`
        state.apply("pods", "DELETED", pod)
    assert value(state, exit_code, job_name="memory-demo-2", cause="oom_killed") == 137
    state.apply("jobs", "DELETED", oom["job"])
    assert value(state, exit_code, job_name="memory-demo-2") is None


def test_a_pod_that_failed_and_went_between_scrapes_still_counts_and_explains() -> None:
    state = ExporterState(clock=Clock())
    oom = scenarios.fixture("oomkilled_137")
    load(state, (oom["job"], oom["pods"]))  # no scrape in between
    for pod in oom["pods"]:
        state.apply("pods", "DELETED", pod)
    exit_code = metrics.JOB_LAST_EXIT_CODE.name
    assert value(state, exit_code, job_name="memory-demo-2", cause="oom_killed") == 137
    failures = metrics.CONTAINER_FAILURES_TOTAL.name
    assert value(state, failures, namespace="mem-example", cause="oom_killed") == 1


def test_pods_that_failed_and_went_before_their_job_arrived_still_explain_it() -> None:
    """The Job and Pod watches are separate streams: under load the Job's ADDED event can come
    after the controller already deleted its failed pods (an OnFailure crash loop reaching
    backoffLimit). The exit those pods showed must still explain the Job once it arrives."""
    state = ExporterState(clock=Clock())
    oom = scenarios.fixture("oomkilled_137")
    for pod in oom["pods"]:
        state.apply("pods", "ADDED", pod)
    assert state.reports() == {}  # a scrape while the Job is still on its way
    for pod in oom["pods"]:
        state.apply("pods", "DELETED", pod)
    state.apply("jobs", "ADDED", oom["job"])
    exit_code = metrics.JOB_LAST_EXIT_CODE.name
    assert value(state, exit_code, job_name="memory-demo-2", cause="oom_killed") == 137
    failures = metrics.CONTAINER_FAILURES_TOTAL.name
    assert value(state, failures, namespace="mem-example", cause="oom_killed") == 1
    assert value(state, metrics.EXPORTER_TRACKED_OBJECTS.name, resource="pods") == 0


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("not a dict", id="string"),
        pytest.param(None, id="null"),
        pytest.param({"metadata": {"name": "no-uid"}}, id="no-uid"),
        pytest.param({"metadata": "oops"}, id="metadata-not-a-map"),
        pytest.param({"metadata": {"uid": "x"}, "status": {"conditions": "x"}}, id="junk-ok"),
    ],
)
def test_malformed_objects_are_counted_and_the_rest_exported(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    state = ExporterState(clock=Clock())
    good = scenarios.waiting_for_retry()
    state.replace("jobs", None, [bad, good[0]])
    state.apply("jobs", "MODIFIED", bad)
    assert "retrying" in job_names(state)
    errors = value(state, metrics.EXPORTER_PARSE_ERRORS_TOTAL.name, resource="jobs")
    if (
        isinstance(bad, dict)
        and isinstance(bad.get("metadata"), dict)
        and bad["metadata"].get("uid")
    ):
        assert errors == 0  # parsing degrades missing or mistyped fields, it does not fail
    else:
        assert errors == 2
        warnings = [r for r in caplog.records if r.name == "jobwatch.state"]
        assert len(warnings) == 1  # the same object is logged once


def test_parser_exception_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: Obj) -> Any:
        raise RuntimeError("parser bug")

    monkeypatch.setitem(PARSERS, "pods", broken)
    state = ExporterState(clock=Clock())
    state.apply("pods", "ADDED", scenarios.waiting_for_retry()[1][0])
    assert value(state, metrics.EXPORTER_PARSE_ERRORS_TOTAL.name, resource="pods") == 1


def test_an_analysis_bug_costs_one_jobs_series_not_the_scrape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobwatch.analysis.job import analyse

    def fragile(job: Any, pods: Any, now: float) -> Any:
        if job.name == "retrying":
            raise RuntimeError("analysis bug")
        return analyse(job, pods, now)

    monkeypatch.setattr("jobwatch.state.exporter.analyse", fragile)
    state = ExporterState(clock=Clock())
    oom = scenarios.fixture("oomkilled_137")
    load(state, (oom["job"], oom["pods"]), scenarios.waiting_for_retry())
    body = text(state)
    assert 'job_name="memory-demo-2"' in body
    assert 'job_name="retrying"' not in body
    assert value(state, metrics.EXPORTER_PARSE_ERRORS_TOTAL.name, resource="jobs") == 1


# --- counters ---------------------------------------------------------------------------------


def test_failures_counted_once_across_modified_events_and_relists() -> None:
    state = ExporterState(clock=Clock())
    run = scenarios.fixture("backoff_limit_exceeded_never")
    job, pods = run["job"], run["pods"]
    for _ in range(3):
        load(state, (job, pods))
        touched = copy.deepcopy(job)
        touched["metadata"]["resourceVersion"] = str(_)  # a MODIFIED that changes nothing real
        state.apply("jobs", "MODIFIED", touched)
        text(state)
        state.replace("jobs", None, [job])
        state.replace("pods", None, pods)
        state.resync()
        text(state)
    labels = {"namespace": "job-8421", "cronjob": ""}
    assert (
        value(state, metrics.JOB_FAILURES_TOTAL.name, reason="BackoffLimitExceeded", **labels) == 1
    )
    assert value(state, metrics.CONTAINER_FAILURES_TOTAL.name, cause="app_error", **labels) == 2


def test_new_container_failure_counts_and_deleted_job_is_forgotten() -> None:
    state = ExporterState(clock=Clock())
    job, pods = scenarios.waiting_for_retry()
    load(state, (job, pods))
    assert value(state, metrics.CONTAINER_FAILURES_TOTAL.name, cause="app_error") == 1
    second = copy.deepcopy(pods[0])
    second["metadata"].update(name="retrying-b", uid="uid-retrying-b")
    state.apply("pods", "ADDED", second)
    assert value(state, metrics.CONTAINER_FAILURES_TOTAL.name, cause="app_error") == 2
    assert state.failures.remembered == 2
    state.apply("jobs", "DELETED", job)
    text(state)
    assert state.failures.remembered == 0


def test_failure_between_scrapes_of_a_deleted_job_still_counts() -> None:
    state = ExporterState(clock=Clock())
    run = scenarios.fixture("oomkilled_137")
    load(state, (run["job"], run["pods"]))
    state.apply("jobs", "DELETED", run["job"])  # never scraped while it existed
    assert value(state, metrics.JOB_FAILURES_TOTAL.name, namespace="mem-example") == 1


# --- CronJob history --------------------------------------------------------------------------


def test_cronjob_history_survives_deletion_and_tracks_the_failure_streak() -> None:
    state = ExporterState(clock=Clock())
    key = ("default", "hourly")
    runs = [
        scenarios.cron_run("hourly", 1, ok=True, start=-10_000),
        scenarios.cron_run("hourly", 2, ok=False, start=-9_000),
        scenarios.cron_run("hourly", 3, ok=False, start=-8_000),
    ]
    for run in runs:
        load(state, run)
        text(state)
        state.apply("jobs", "DELETED", run[0])  # like successfulJobsHistoryLimit: 0
    status = state.cronjob_statuses()[key]
    assert status.consecutive_failures == 2
    assert status.last_state == State.FAILED
    assert status.last_success_at == T0_EPOCH - 10_000 + 5
    assert status.last_failure_at == T0_EPOCH - 8_000 + 5
    assert status.first_seen_at == T0_EPOCH - 10_000
    assert state.reports() == {}
    assert value(state, metrics.CRONJOB_CONSECUTIVE_FAILURES.name, cronjob="hourly") == 2

    load(state, scenarios.cron_run("hourly", 4, ok=True, start=-7_000))
    assert state.cronjob_statuses()[key].consecutive_failures == 0
    assert value(state, metrics.CRONJOB_LAST_RUN_STATE.name, state="succeeded") == 1


def test_cronjob_last_run_is_the_latest_started_even_while_running() -> None:
    state = ExporterState(clock=Clock())
    load(state, scenarios.cron_run("hourly", 1, ok=False, start=-3_600))
    running, _pods = scenarios.cron_run("hourly", 2, ok=True, start=-60)
    running["status"] = {"startTime": running["status"]["startTime"], "active": 1}
    load(state, (running, []))
    status = state.cronjob_statuses()[("default", "hourly")]
    assert status.last_state in (State.RUNNING, State.STALLED)
    assert status.consecutive_failures == 1


def test_cronjob_history_is_rebuilt_from_existing_jobs_and_order_does_not_matter() -> None:
    runs = [
        scenarios.cron_run("hourly", n, ok=n == 2, start=-1000.0 * (5 - n)) for n in range(1, 5)
    ]
    forward = ExporterState(clock=Clock())
    backward = ExporterState(clock=Clock())
    forward.replace("jobs", None, [j for j, _ in runs])
    backward.replace("jobs", None, [j for j, _ in reversed(runs)])
    assert forward.cronjob_statuses() == backward.cronjob_statuses()
    assert forward.cronjob_statuses()[("default", "hourly")].consecutive_failures == 2


@pytest.mark.parametrize("order", list(itertools.permutations((2, 3, 4))))
def test_cronjob_runs_started_in_the_same_second_are_ordered_by_their_scheduled_name(
    order: tuple[int, ...],
) -> None:
    # Timestamps have one-second resolution; CronJob run names end in the scheduled minute.
    state = ExporterState(clock=Clock())
    for n in order:
        load(state, scenarios.cron_run("hourly", n, ok=n == 4, start=-100))
        text(state)
    status = state.cronjob_statuses()[("default", "hourly")]
    assert status.last_state == State.SUCCEEDED
    assert status.consecutive_failures == 0


def test_cronjob_history_is_bounded_but_exact() -> None:
    state = ExporterState(clock=Clock(), cronjob_history=3)
    for n in range(1, 11):  # success, then nine failures
        run = scenarios.cron_run("hourly", n, ok=n == 1, start=-100_000 + 1000.0 * n)
        load(state, run)
        text(state)
        state.apply("jobs", "DELETED", run[0])
    status = state.cronjob_statuses()[("default", "hourly")]
    assert status.consecutive_failures == 9
    assert status.last_success_at == T0_EPOCH - 100_000 + 1000 + 5
    assert status.first_seen_at == T0_EPOCH - 100_000 + 1000
    assert len(state.cronjobs.history._by_key[("default", "hourly")].runs) == 3


# --- lazy analysis and resync -----------------------------------------------------------------


def test_scrapes_do_not_reanalyse_unchanged_jobs() -> None:
    state = ExporterState(clock=Clock())
    load(state, *scenarios.rich())
    first = text(state)
    analysed = state.analysed
    assert analysed == len(scenarios.rich())
    assert text(state) == first
    assert state.exposition(True)
    assert state.analysed == analysed
    # one pod changes: only its Job is analysed again
    _job, pods = scenarios.waiting_for_retry()
    pods[0]["status"]["containerStatuses"][0]["restartCount"] = 1
    state.apply("pods", "MODIFIED", pods[0])
    text(state)
    assert state.analysed == analysed + 1


def test_unchanged_relist_does_not_reanalyse() -> None:
    state = ExporterState(clock=Clock())
    runs = scenarios.rich()
    load(state, *runs)
    text(state)
    analysed = state.analysed
    state.replace("jobs", None, [j for j, _ in runs])
    state.replace("pods", None, [p for _, ps in runs for p in ps])
    text(state)
    assert state.analysed == analysed


def test_resync_picks_up_time_driven_changes() -> None:
    """The pod-recreation backoff passes with no new pod: the Job becomes stalled (no_pods)."""
    clock = Clock(T0_EPOCH + 12)  # the failed pod finished at T0+10; retry not before T0+20
    state = ExporterState(clock=clock)
    load(state, scenarios.waiting_for_retry(), scenarios.fixture_pair("oomkilled_137"))
    assert value(state, metrics.JOB_STATE.name, job_name="retrying", state="running") == 1
    clock.now = T0_EPOCH + 600
    assert value(state, metrics.JOB_STATE.name, job_name="retrying", state="running") == 1
    assert state.resync() == 1  # only the retrying Job changed
    assert value(state, metrics.JOB_STATE.name, job_name="retrying", state="stalled") == 1
    assert value(state, metrics.JOB_STATE.name, job_name="retrying", state="running") is None
    assert state.resync() == 0


# --- telemetry --------------------------------------------------------------------------------


def _ready(state: ExporterState) -> bool:
    """Read afresh each time (mypy would narrow a property across the calls in between)."""
    return state.telemetry.ready


def _last_heartbeat(state: ExporterState) -> float | None:
    return state.telemetry.last_heartbeat


def test_readiness_waits_for_every_expected_scope() -> None:
    state = ExporterState(clock=Clock())
    assert not _ready(state)
    state.telemetry.expect("jobs", "a")
    state.telemetry.expect("jobs", "b")
    state.telemetry.expect("pods", None)
    state.telemetry.synced("jobs", "a")
    state.telemetry.synced("pods", None)
    assert not _ready(state)
    assert value(state, metrics.EXPORTER_SYNCED.name, resource="jobs") == 0
    state.telemetry.synced("jobs", "b")
    assert _ready(state)
    assert value(state, metrics.EXPORTER_SYNCED.name, resource="jobs") == 1


def test_self_metrics_count_what_the_informers_report() -> None:
    state = ExporterState(clock=Clock())
    assert _last_heartbeat(state) is None
    assert value(state, metrics.EXPORTER_EVENTS_TOTAL.name, resource="pods", type="ADDED") == 0
    state.telemetry.heartbeat("jobs", 100.0)
    state.telemetry.heartbeat("pods", 200.0)
    state.telemetry.heartbeat("jobs", 50.0)  # late report never moves time back
    assert _last_heartbeat(state) == 200.0
    state.telemetry.event("pods", "ADDED")
    state.telemetry.event("pods", "SOMETHING-NEW")
    state.telemetry.request("jobs", "watch", "expired")
    state.telemetry.relisted("jobs")
    assert value(state, metrics.EXPORTER_EVENTS_TOTAL.name, resource="pods", type="ADDED") == 1
    assert value(state, metrics.EXPORTER_EVENTS_TOTAL.name, resource="pods", type="OTHER") == 1
    assert (
        value(
            state,
            metrics.EXPORTER_API_REQUESTS_TOTAL.name,
            result="expired",
            verb="watch",
            resource="jobs",
        )
        == 1
    )
    assert value(state, metrics.EXPORTER_RELISTS_TOTAL.name, resource="jobs") == 1
    assert value(state, metrics.EXPORTER_LAST_EVENT.name, resource="jobs") == 100
    assert value(state, metrics.EXPORTER_LAST_EVENT.name, resource="pods") == 200


def test_state_implements_the_sink_and_its_telemetry_the_telemetry_protocol() -> None:
    # Checked by mypy (tests are type-checked): a missing or mistyped method fails `make lint`.
    from jobwatch.sink import Sink, Telemetry

    state = ExporterState()
    sink: Sink = state
    telemetry: Telemetry = state.telemetry
    assert (sink, telemetry) == (state, state.telemetry)


def test_an_unchanged_scrape_returns_the_same_body_object() -> None:
    # The server's gzip cache keys on identity: nothing changed, nothing to compress again.
    state = ExporterState(clock=Clock())
    load(state, scenarios.waiting_for_retry())
    first = state.exposition(False)
    assert state.exposition(False) is first
    state.telemetry.event("pods", "MODIFIED")  # a self-metric changes: a new body
    assert state.exposition(False) is not first


# --- CronJob objects (watched with --watch.cronjobs) -----------------------------------------


def cronjob_object(name: str, namespace: str = "default") -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "uid": f"cj-{name}"},
    }


def test_a_deleted_cronjob_takes_its_series_with_it() -> None:
    state = ExporterState(clock=Clock())
    state.replace("cronjobs", None, [cronjob_object("hourly")])
    run = scenarios.cron_run("hourly", 1, ok=False, start=-100)
    load(state, run)
    failures = metrics.CRONJOB_CONSECUTIVE_FAILURES.name
    assert value(state, failures, cronjob="hourly") == 1
    state.apply("cronjobs", "DELETED", cronjob_object("hourly"))
    assert value(state, failures, cronjob="hourly") is None
    assert 'job_name="hourly-1"' in text(state)  # the Job itself still exists (orphaned)
    state.apply("jobs", "MODIFIED", run[0] | {"spec": {"backoffLimit": 1}})
    state.apply("jobs", "DELETED", run[0])  # the garbage collector, a moment later
    assert value(state, failures, cronjob="hourly") is None  # a late Job does not bring it back
    assert state.cronjob_statuses() == {}


def test_jobs_seen_before_their_cronjob_count_once_it_arrives() -> None:
    state = ExporterState(clock=Clock())
    state.replace("cronjobs", None, [])
    load(state, scenarios.cron_run("hourly", 1, ok=False, start=-100))
    assert state.cronjob_statuses() == {}  # separate watches: the CronJob's ADDED may come later
    state.apply("cronjobs", "ADDED", cronjob_object("hourly"))
    assert state.cronjob_statuses()[("default", "hourly")].consecutive_failures == 1
    tracked = metrics.EXPORTER_TRACKED_OBJECTS.name
    assert value(state, tracked, resource="cronjobs") == 1


def test_a_cronjob_deleted_while_disconnected_goes_at_the_relist_in_its_scope_only() -> None:
    state = ExporterState(clock=Clock())
    team_b = cronjob_object("nightly", "team-b")
    state.replace("cronjobs", None, [cronjob_object("hourly"), team_b])
    load(state, scenarios.cron_run("hourly", 1, ok=True, start=-100))
    load(state, scenarios.cron_run("nightly", 1, ok=True, start=-100, namespace="team-b"))
    assert set(state.cronjob_statuses()) == {("default", "hourly"), ("team-b", "nightly")}
    state.replace("cronjobs", "default", [])
    assert set(state.cronjob_statuses()) == {("team-b", "nightly")}


def test_without_a_cronjob_watch_history_outlives_everything() -> None:
    state = ExporterState(clock=Clock())
    run = scenarios.cron_run("hourly", 1, ok=False, start=-100)
    load(state, run)
    state.apply("jobs", "DELETED", run[0])
    assert state.cronjob_statuses()[("default", "hourly")].consecutive_failures == 1
    assert 'resource="cronjobs"' not in text(state)


def _job_lines(state: ExporterState) -> list[str]:
    return sorted(
        line
        for line in text(state).splitlines()
        if line.startswith("jobwatch_job_") and "_total" not in line
    )


def test_incremental_scrapes_equal_a_fresh_render_after_a_sequence_of_changes() -> None:
    # Families are re-joined only when one of their lines changed; the result must be exactly
    # what a state built from scratch from the final objects exports.
    runs = [scenarios.fixture_pair(f.stem) for f in sorted(scenarios.FIXTURES.glob("*.json"))]
    live = ExporterState(clock=Clock())
    jobs: dict[str, Obj] = {}
    pods: dict[str, Obj] = {}
    for job, job_pods in runs:
        load(live, (job, job_pods))
        jobs[job["metadata"]["uid"]] = job
        pods.update({p["metadata"]["uid"]: p for p in job_pods})
        text(live)
    for job, job_pods in runs[::3]:  # delete some Jobs and their pods, scraping in between
        for pod in job_pods:
            live.apply("pods", "DELETED", pod)
            del pods[pod["metadata"]["uid"]]
        text(live)
        live.apply("jobs", "DELETED", job)
        del jobs[job["metadata"]["uid"]]
    changed = copy.deepcopy(runs[1][0])
    changed["spec"]["backoffLimit"] = 9
    changed["metadata"]["labels"] = {"touched": "yes"}
    live.apply("jobs", "MODIFIED", changed)
    jobs[changed["metadata"]["uid"]] = changed
    fresh = ExporterState(clock=Clock())
    fresh.replace("jobs", None, list(jobs.values()))
    fresh.replace("pods", None, list(pods.values()))
    assert _job_lines(live) == _job_lines(fresh)
    assert len(_job_lines(live)) > 50


def test_refresh_steps_do_bounded_work_and_end_where_a_full_refresh_would() -> None:
    runs = [scenarios.fixture_pair(f.stem) for f in sorted(scenarios.FIXTURES.glob("*.json"))]
    stepped = ExporterState(clock=Clock())
    whole = ExporterState(clock=Clock())
    for state in (stepped, whole):
        state.replace("jobs", None, [j for j, _ in runs])
        state.replace("pods", None, [p for _, pods in runs for p in pods])
    steps = 1
    while not stepped.refresh_step(budget=2):
        assert stepped.analysed == 2 * steps
        steps += 1
    assert steps == (len(runs) + 1) // 2
    assert _job_lines(stepped) == _job_lines(whole)
    analysed = stepped.analysed
    stepped.expire()
    assert stepped.refresh_step(budget=100)
    assert stepped.analysed == analysed + len(runs)
