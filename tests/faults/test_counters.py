"""Counters count failures when they happen, once (issue 11 §1): N crashes between two analyses
add N; what exists when the exporter starts is a baseline, so a restart after deletions gives
`increase()` = 0 in a real Prometheus instead of re-counting every surviving failure."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from jobwatch import metrics
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch.state import ExporterState
from jobwatch_testbed.monitoring import free_port, run_prometheus
from jobwatch_testbed.sim import JOBS, SimServer
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job
from jobwatch_testbed.sim.store import PODS
from tests.builders import ctr, job, pod, running, terminated
from tests.exporter import scenarios
from tests.exporter.test_state import Clock, load, value
from tests.tools import tool

Obj = dict[str, Any]
CONTAINER_FAILURES = metrics.CONTAINER_FAILURES_TOTAL.name
JOB_FAILURES = metrics.JOB_FAILURES_TOTAL.name


def _crashing(restarts: int) -> Obj:
    last = terminated(1, finished=10 + restarts) if restarts else None
    containers = [ctr(state=running(20 + restarts), last=last, restarts=restarts)]
    return pod(restart_policy="OnFailure", containers=containers)


def test_n_crashes_between_analyses_count_n() -> None:
    state = ExporterState(clock=Clock())
    load(state, (job(restart_policy="OnFailure"), [_crashing(0)]))
    assert value(state, CONTAINER_FAILURES, cause="app_error") is None
    state.apply("pods", "MODIFIED", _crashing(18))  # 18 crashes, one analysis
    assert value(state, CONTAINER_FAILURES, cause="app_error") == 18
    state.apply("pods", "MODIFIED", _crashing(18))
    state.apply("pods", "MODIFIED", _crashing(20))
    state.resync()
    assert value(state, CONTAINER_FAILURES, cause="app_error") == 20


def test_what_exists_at_start_is_a_baseline_not_counted() -> None:
    state = ExporterState(clock=Clock())
    for resource in ("jobs", "pods"):
        state.telemetry.expect(resource, None)
    failed = scenarios.fixture("backoff_limit_exceeded_never")
    crashing = copy.deepcopy(_crashing(3))
    state.replace("jobs", None, [failed["job"], job(restart_policy="OnFailure")])
    state.replace("pods", None, [*failed["pods"], crashing])
    state.telemetry.synced("jobs", None)
    assert value(state, JOB_FAILURES, reason="BackoffLimitExceeded") is None  # not yet ready
    state.telemetry.synced("pods", None)
    assert value(state, JOB_FAILURES, reason="BackoffLimitExceeded") is None
    assert value(state, CONTAINER_FAILURES, cause="app_error") is None
    state.apply("pods", "MODIFIED", _crashing(5))  # two crashes after the start
    assert value(state, CONTAINER_FAILURES, cause="app_error", namespace="default") == 2


def _ready(state: ExporterState) -> bool:
    """Read afresh each time (mypy would narrow a property across the calls in between)."""
    return state.ready


def test_a_change_before_the_baseline_is_rendered_counts_against_the_listed_state() -> None:
    """The renderer analyses the baseline in steps after the LISTs end; a crash that arrives
    before it reached the Job is counted, not absorbed into the baseline (nor re-counted)."""
    state = ExporterState(clock=Clock())
    for resource in ("jobs", "pods"):
        state.telemetry.expect(resource, None)
    state.replace("jobs", None, [job(restart_policy="OnFailure")])
    state.replace("pods", None, [copy.deepcopy(_crashing(3))])
    state.telemetry.synced("jobs", None)
    state.telemetry.synced("pods", None)
    assert not _ready(state)  # listed, not yet rendered
    state.apply("pods", "MODIFIED", _crashing(5))  # two crashes after the LISTs
    asyncio.run(state.render_pass())
    assert _ready(state)
    assert value(state, CONTAINER_FAILURES, cause="app_error", namespace="default") == 2
    state.apply("pods", "MODIFIED", _crashing(6))
    asyncio.run(state.render_pass())
    assert value(state, CONTAINER_FAILURES, cause="app_error", namespace="default") == 3


def _failed_job(sim: SimServer, name: str) -> None:
    created = sim.store.create(JOBS, new_job("ns", name, [container("c", ["false"])]))
    created["status"] = {
        "failed": 1,
        "startTime": "2026-01-01T00:00:00Z",
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"},
        ],
    }
    sim.store.update(JOBS, "ns", name, lambda o: o.update(status=created["status"]))
    failed_pod = pod_for_job(created)
    failed_pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [{"name": "c", "restartCount": 0, "state": terminated(1, finished=5)}],
    }
    sim.store.create(PODS, failed_pod)


async def _scraped(prometheus: Any, expr: str, within: float = 20.0) -> list[Any]:
    async with asyncio.timeout(within):
        for _ in iter(int, 1):  # until the query answers, bounded by the timeout
            if result := await prometheus.query(expr):
                return list(result)
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


@pytest.mark.timeout(120)
async def test_restart_after_deletions_gives_zero_increase_in_real_prometheus(
    tmp_path: Path,
) -> None:
    tool("prometheus")

    port = free_port()
    async with SimServer("127.0.0.1", 0) as sim:
        for name in ("a", "b", "c"):
            _failed_job(sim, name)
        loop = sim.store.create(
            JOBS, new_job("ns", "loop", [container("c", ["false"])], restart_policy="OnFailure")
        )
        crash = sim.store.create(PODS, pod_for_job(loop))
        config = settings(
            kubeconfig=str(sim.write_kubeconfig(tmp_path / "kc")),
            listen_address=f"127.0.0.1:{port}",
        )
        async with run_prometheus([f"127.0.0.1:{port}"], interval="1s") as prometheus:
            async with Exporter(config) as first:
                await first.wait_ready()
                await prometheus.wait_for_target_up()

                def crashed(o: Obj) -> None:
                    o["status"] = {
                        "phase": "Running",
                        "containerStatuses": [
                            {
                                "name": "c",
                                "restartCount": 3,
                                "state": running(30),
                                "lastState": terminated(1, finished=29),
                            }
                        ],
                    }

                sim.store.update(PODS, "ns", crash["metadata"]["name"], crashed)
                # Three crashes between two scrapes count three, in Prometheus too.
                seen = await _scraped(prometheus, f"{CONTAINER_FAILURES} == 3")
                assert seen[0]["metric"]["cause"] == "app_error"
                await asyncio.sleep(2)
            for name in ("a", "b"):  # TTL or history limits delete failed Jobs meanwhile
                sim.store.delete(JOBS, "ns", name)
            restarted = asyncio.get_running_loop().time()
            async with Exporter(config) as second:
                await second.wait_ready()
                await asyncio.sleep(6)  # several scrapes of the restarted exporter
                window = int(asyncio.get_running_loop().time() - restarted) + 1
                for family in (CONTAINER_FAILURES, JOB_FAILURES):
                    grew = await prometheus.query(f"sum(increase({family}[{window}s])) > 0")
                    assert grew == [], (family, grew)
                    resets = await prometheus.query(f"sum(resets({family}[{window}s])) > 0")
                    assert resets == [], (family, resets)
