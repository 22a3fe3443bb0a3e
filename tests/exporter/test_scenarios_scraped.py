"""Every scenario, end to end through the exporter: the sim plays all 20 over real HTTP, the real
`jobwatch serve` stack (kubernetes_asyncio informers, ExporterState, aiohttp server) watches it,
and a real scrape of /metrics must say what the spec says for each (telling states as documented
in `jobwatch_testbed.sim.scenarios`; section numbers from docs/job-semantics.md).

The sim writes statuses from the spec without calling `jobwatch.analysis`, so agreement here is
two independent readings of the spec meeting. One stack serves the module: the scenarios are
played once (fast), then each test reads the same scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobwatch import metrics as m
from jobwatch.metrics import Metric
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.sim import CRONJOBS, JOBS, PODS, SCENARIOS, ScenarioPlayer, SimServer
from tests.tools import tool

PRESENT = object()  # any value
ABSENT = object()  # no such series
SETTLE_TIMEOUT = 30.0
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    text: str
    openmetrics: str
    samples: list[Sample]

    def find(self, metric: Metric, **labels: str) -> list[Sample]:
        name = metric.name
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]


def _samples(text: str) -> list[Sample]:
    return [
        Sample(s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


async def _get(url: str, accept: str = "") -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Accept": accept} if accept else {}) as response,
    ):
        assert response.status == 200
        return await response.text()


@contextlib.asynccontextmanager
async def _stack() -> AsyncIterator[tuple[SimServer, str]]:
    """The sim and a ready `jobwatch serve` watching it: (sim, the /metrics URL)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with SimServer("127.0.0.1", 0, bookmark_period=2.0) as sim:
            kubeconfig = sim.write_kubeconfig(Path(tmp) / "kubeconfig")
            config = settings(kubeconfig=str(kubeconfig), listen_address="127.0.0.1:0")
            async with Exporter(config) as exporter:
                await exporter.wait_ready()
                yield sim, f"{exporter.url}/metrics"


async def _play_and_scrape() -> Scrape:
    async with _stack() as (sim, url):
        await ScenarioPlayer(sim.store, speed=200).run(until_settled=True)
        async with asyncio.timeout(SETTLE_TIMEOUT):
            text = await _converged(sim, url)
        om = await _get(url, "application/openmetrics-text; version=1.0.0")
        return Scrape(text, om, _samples(text))


async def _converged(sim: SimServer, url: str) -> str:
    """The scrape once the exporter tracks as many Jobs and Job pods as the sim holds, the body
    shows every change it received, and two scrapes in a row agree (the informers may still be
    delivering the last events)."""
    jobs, _ = sim.store.list(JOBS, None)
    pods, _ = sim.store.list(PODS, None)
    cronjobs, _ = sim.store.list(CRONJOBS, None)
    want = {
        "jobs": len(jobs),
        "pods": sum(CONTROLLER_UID in p["metadata"].get("labels", {}) for p in pods),
        "cronjobs": len(cronjobs),
    }
    previous = ""
    while True:
        text = await _get(url)
        samples = _samples(text)
        tracked = {
            s.labels["resource"]: s.value
            for s in samples
            if s.name == m.EXPORTER_TRACKED_OBJECTS.name
        }
        # The served body is published by the renderer: it shows every change once the
        # unrendered-change age is 0 (the tracked counts are fresh at every scrape).
        rendered = [s.value for s in samples if s.name == m.EXPORTER_UNRENDERED_AGE.name] == [0]
        stable = _without_self_metrics(text) == _without_self_metrics(previous)
        if tracked == want and rendered and stable:
            return text
        previous = text
        await asyncio.sleep(0.3)


async def _play_with_the_job_watch_lagging(name: str) -> Scrape:
    """Play one scenario while the Job watch sends nothing (the Pod watch keeps up: separate
    streams, as under load), until the exporter saw a pod deleted; then the Job watch catches
    up, and the scrape once it converged."""
    async with _stack() as (sim, url):
        sim.faults.blackhole(resources=("jobs",))
        await ScenarioPlayer(sim.store, speed=200).run([name], until_settled=True)
        async with asyncio.timeout(SETTLE_TIMEOUT):
            while True:
                if await _saw_a_pod_deleted(url):
                    break
                await asyncio.sleep(0.1)
        sim.faults.clear()
        async with asyncio.timeout(SETTLE_TIMEOUT):
            text = await _converged(sim, url)
        return Scrape(text, "", _samples(text))


async def _saw_a_pod_deleted(url: str) -> bool:
    return any(
        s.name == m.EXPORTER_EVENTS_TOTAL.name
        and s.labels == {"resource": "pods", "type": "DELETED"}
        for s in _samples(await _get(url))
    )


def _without_self_metrics(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "jobwatch_exporter_" not in line)


@pytest.fixture(scope="module")
def scrape() -> Scrape:
    return asyncio.run(_play_and_scrape())


def job(namespace: str, name: str, cronjob: str = "") -> dict[str, str]:
    return {"namespace": namespace, "job_name": name, "cronjob": cronjob}


# (scenario, Job labels, [(metric, extra labels, expected value | PRESENT | ABSENT)])
Expectation = tuple[Metric, dict[str, str], object]
FAILED_BLE = (m.JOB_STATE, {"state": "failed", "reason": "BackoffLimitExceeded"}, 1)
SUCCEEDED = (m.JOB_STATE, {"state": "succeeded", "reason": "CompletionsReached"}, 1)

EXPECTED: dict[str, tuple[dict[str, str], list[Expectation]]] = {
    # §1.2: Never fails on *exceeding* the limit: 2 failures against backoffLimit 1.
    "backoff_limit_exceeded_never": (
        job("sim-backoff-never", "backofflimit"),
        [
            FAILED_BLE,
            (m.JOB_INFO, {"restart_policy": "Never", "completion_mode": "NonIndexed"}, 1),
            (m.JOB_ATTEMPTS_USED, {}, 2),
            (m.JOB_ATTEMPTS_LIMIT, {}, 1),
            (m.JOB_ATTEMPTS_REMAINING, {}, 0),
            (m.JOB_LAST_EXIT_CODE, {"container": "c", "reason": "Error", "cause": "app_error"}, 1),
            (m.JOB_FINISH, {}, PRESENT),
            (m.JOB_START, {}, PRESENT),
            (m.JOB_STALLED_SINCE, {}, ABSENT),
        ],
    ),
    # §1.3/§3.2: OnFailure fails on *reaching* the limit with restarts; the crash-looping pod is
    # deleted by the controller, yet the exit code that explains it stays.
    "onfailure_crashloop_backoff_limit": (
        job("sim-onfailure", "fail-onfailure"),
        [
            FAILED_BLE,
            (m.JOB_INFO, {"restart_policy": "OnFailure"}, 1),
            (m.JOB_ATTEMPTS_LIMIT, {}, 3),
            (m.JOB_ATTEMPTS_REMAINING, {}, 0),
            (m.JOB_LAST_EXIT_CODE, {"cause": "app_error"}, 1),
        ],
    ),
    "oomkilled": (
        job("sim-oomkilled", "memory-hog"),
        [
            FAILED_BLE,
            (
                m.JOB_LAST_EXIT_CODE,
                {"container": "memory-demo-ctr", "reason": "OOMKilled", "cause": "oom_killed"},
                137,
            ),
            (m.JOB_ATTEMPTS_USED, {}, 1),
            (m.JOB_ATTEMPTS_LIMIT, {}, 0),
            (m.JOB_LAST_FAILURE_TIMESTAMP, {"cause": "oom_killed"}, PRESENT),
        ],
    ),
    "exit127_command_not_found": (
        job("sim-exit127", "missing-command"),
        [
            FAILED_BLE,
            (
                m.JOB_LAST_EXIT_CODE,
                {"container": "task", "reason": "Error", "cause": "command_not_found"},
                127,
            ),
        ],
    ),
    "start_error_128": (
        job("sim-starterror", "bad-entrypoint"),
        [
            FAILED_BLE,
            (
                m.JOB_LAST_EXIT_CODE,
                {"container": "app", "reason": "StartError", "cause": "start_error"},
                128,
            ),
        ],
    ),
    # §4: none of these ever counts against backoffLimit.
    "imagepullbackoff_stall": (
        job("sim-imagepull", "invalid-image"),
        [
            (m.JOB_STATE, {"state": "stalled", "reason": "image_pull"}, 1),
            (m.JOB_STALLED_SINCE, {"reason": "image_pull"}, PRESENT),
            (m.JOB_ATTEMPTS_USED, {}, 0),
            (m.JOB_ATTEMPTS_REMAINING, {}, 6),
            (m.JOB_LAST_EXIT_CODE, {}, ABSENT),
        ],
    ),
    "createcontainerconfigerror_stall": (
        job("sim-configerror", "config-app"),
        [
            (m.JOB_STATE, {"state": "stalled", "reason": "config_error"}, 1),
            (m.JOB_STALLED_SINCE, {"reason": "config_error"}, PRESENT),
        ],
    ),
    "unschedulable_stall": (
        job("sim-unschedulable", "huge-request"),
        [
            (m.JOB_STATE, {"state": "stalled", "reason": "unschedulable"}, 1),
            (m.JOB_STALLED_SINCE, {"reason": "unschedulable"}, PRESENT),
        ],
    ),
    # §1.13
    "deadline_exceeded": (
        job("sim-deadline", "sleepy"),
        [
            (m.JOB_STATE, {"state": "failed", "reason": "DeadlineExceeded"}, 1),
            (m.JOB_DEADLINE, {}, PRESENT),
            (m.JOB_FINISH, {}, PRESENT),
        ],
    ),
    # §5.3: "Complete" hides two failed pods.
    "complete_after_two_failures": (
        job("sim-retry-success", "flaky"),
        [
            SUCCEEDED,
            (m.JOB_HIDDEN_FAILURES, {"kind": "failed_pods_before_success"}, 2),
            (m.JOB_LAST_EXIT_CODE, {"cause": "app_error"}, 1),
            (m.JOB_ATTEMPTS_USED, {}, 2),
        ],
    ),
    # §5.1: printPod at v1.37.2 shows the worker's Error, not the app's Completed: nothing hidden.
    "multi_container_completed_but_failed": (
        job("sim-multicontainer", "two-containers"),
        [
            FAILED_BLE,
            (m.JOB_HIDDEN_FAILURES, {"kind": "failed_pod_displayed_completed"}, ABSENT),
            (m.JOB_LAST_EXIT_CODE, {"container": "worker", "cause": "app_error"}, 1),
        ],
    ),
    # §1.3: restarts of a pod that then succeeded leave no trace in Job status.
    "onfailure_oom_then_success": (
        job("sim-oom-restarts", "memory-spiky"),
        [
            SUCCEEDED,
            (m.JOB_HIDDEN_FAILURES, {"kind": "restarts_before_success"}, 2),
            (m.JOB_LAST_EXIT_CODE, {"container": "main", "cause": "oom_killed"}, 137),
            (m.JOB_CONTAINER_RESTARTS, {}, 2),
        ],
    ),
    # §1.5: a crashing native sidecar does not fail the pod.
    "failing_sidecar_succeeded_pod": (
        job("sim-sidecar", "with-sidecar"),
        [SUCCEEDED, (m.JOB_HIDDEN_FAILURES, {"kind": "sidecar_failures"}, 1)],
    ),
    # §1.10
    "indexed_per_index_backoff": (
        job("sim-indexed", "per-index"),
        [
            (m.JOB_STATE, {"state": "failed", "reason": "MaxFailedIndexesExceeded"}, 1),
            (m.JOB_INFO, {"completion_mode": "Indexed"}, 1),
            (m.JOB_ATTEMPTS_LIMIT, {}, 1),
            (m.JOB_FAILED_INDEXES, {}, 2),
            (m.JOB_MAX_FAILED_INDEXES, {}, 1),
        ],
    ),
    # §1.9
    "pod_failure_policy_failjob": (
        job("sim-pfp-failjob", "exit-42"),
        [
            (m.JOB_STATE, {"state": "failed", "reason": "PodFailurePolicy"}, 1),
            (m.JOB_LAST_EXIT_CODE, {"container": "main", "cause": "app_error"}, 42),
            (m.JOB_ATTEMPTS_LIMIT, {}, 6),
        ],
    ),
    "pod_failure_policy_ignore_disruption": (
        job("sim-pfp-ignore", "evictable"),
        [
            SUCCEEDED,
            (m.JOB_HIDDEN_FAILURES, {"kind": "ignored_by_pod_failure_policy"}, 1),
            (m.JOB_ATTEMPTS_USED, {}, 0),
        ],
    ),
    # §1.14
    "suspended": (
        job("sim-suspended", "paused"),
        [
            (m.JOB_STATE, {"state": "suspended", "reason": "JobSuspended"}, 1),
            (m.JOB_START, {}, ABSENT),
            (m.JOB_STALLED_SINCE, {}, ABSENT),
        ],
    ),
    "healthy": (
        job("sim-healthy", "hello"),
        [
            SUCCEEDED,
            (m.JOB_LAST_EXIT_CODE, {"container": "hello", "cause": "success"}, 0),
            (m.JOB_ATTEMPTS_USED, {}, 0),
            (m.JOB_HIDDEN_FAILURES, {}, ABSENT),
            (m.JOB_STALLED_SINCE, {}, ABSENT),
        ],
    ),
    # §1.1: a terminating pod counts as failed at once (podReplacementPolicy default).
    "pod_deleted_counts_as_failed": (
        job("sim-pod-deleted", "deleted-pod"),
        [
            SUCCEEDED,
            (m.JOB_ATTEMPTS_USED, {}, 1),
            (m.JOB_HIDDEN_FAILURES, {"kind": "failed_pods_before_success"}, 1),
        ],
    ),
}


def test_every_scenario_has_expectations() -> None:
    assert set(EXPECTED) | {"cronjob_three_failures_then_success"} == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scraped_metrics_match_the_spec(scrape: Scrape, name: str) -> None:
    job_labels, expectations = EXPECTED[name]
    assert len(scrape.find(m.JOB_STATE, **job_labels)) == 1, "one state series per Job"
    wrong = []
    for metric, extra, expected in expectations:
        found = scrape.find(metric, **job_labels, **extra)
        if expected is ABSENT:
            ok = not found
        elif expected is PRESENT:
            ok = len(found) == 1
        else:
            ok = len(found) == 1 and found[0].value == expected
        if not ok:
            wrong.append(f"{metric.name}{extra}: want {expected!r}, got {found}")
    assert wrong == []


def test_cronjob_outcome_survives_runs_and_resets_on_success(scrape: Scrape) -> None:
    cron = {"namespace": "sim-cronjob", "cronjob": "nightly-report"}
    assert scrape.find(m.CRONJOB_LAST_RUN_STATE, **cron, state="succeeded")[0].value == 1
    assert scrape.find(m.CRONJOB_CONSECUTIVE_FAILURES, **cron)[0].value == 0
    assert len(scrape.find(m.CRONJOB_LAST_SUCCESS, **cron)) == 1
    assert len(scrape.find(m.CRONJOB_LAST_FAILURE, **cron)) == 1
    runs = scrape.find(m.JOB_STATE, **cron)
    assert sorted(s.labels["state"] for s in runs) == ["failed"] * 3 + ["succeeded"]
    (failures,) = scrape.find(m.JOB_FAILURES_TOTAL, **cron, reason="BackoffLimitExceeded")
    assert failures.value == 3


def test_failure_counters_count_each_failure_once(scrape: Scrape) -> None:
    total = {s.labels["namespace"]: s.value for s in scrape.find(m.JOB_FAILURES_TOTAL)}
    assert total["sim-backoff-never"] == 1
    containers = scrape.find(m.CONTAINER_FAILURES_TOTAL, namespace="sim-backoff-never")
    assert [(s.labels["cause"], s.value) for s in containers] == [("app_error", 2)]


def test_no_series_appears_twice(scrape: Scrape) -> None:
    keys = [(s.name, tuple(sorted(s.labels.items()))) for s in scrape.samples]
    assert len(keys) == len(set(keys))


def test_live_output_passes_promtool_check_metrics(scrape: Scrape) -> None:
    tool("promtool")
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=scrape.text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_live_openmetrics_parses(scrape: Scrape) -> None:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_openmetrics,
    )

    families = {f.name for f in parse_openmetrics(scrape.openmetrics)}
    assert m.JOB_STATE.name in families
    assert scrape.openmetrics.endswith("# EOF\n")


def test_a_pod_deleted_before_its_job_arrived_still_explains_the_job() -> None:
    """Seen under load: the controller deleted the crash-looping pod before the exporter got
    the Job's ADDED event; the exit code that pod showed must still explain the failed Job."""
    scrape = asyncio.run(_play_with_the_job_watch_lagging("onfailure_crashloop_backoff_limit"))
    labels = job("sim-onfailure", "fail-onfailure")
    assert len(scrape.find(m.JOB_STATE, **labels, **FAILED_BLE[1])) == 1
    found = scrape.find(m.JOB_LAST_EXIT_CODE, **labels, cause="app_error")
    assert [s.value for s in found] == [1]
