"""Sim vs real: every scenario's Jobs go through the same statuses on the sim's Job controller
and on kube-controller-manager v1.37.2, given the same scripts of pod outcomes.

Both backends play all scenarios at once; the sim on a VirtualClock (exact simulated seconds),
the real control plane in real time with the scripted kubelet. Compared per Job, in creation
order: the final status (conditions with status and reason, failed, succeeded, active, ready,
terminating, completedIndexes, failedIndexes); the sequence of distinct (conditions, failed,
succeeded, terminating) steps (one side may miss steps the other batched away within a second,
never add or reorder them); and when each pod was created, within `POD_TOLERANCE` seconds
(2.5 s: the real controller counts the backoff from finishedAt at whole-second precision and
needs about a second to create a first pod when 20 Jobs arrive at once; the sim syncs once a
second).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from jobwatch_testbed.kube.compare import (
    POD_TOLERANCE,
    KubeRun,
    Trace,
    differences,
    run_on_sim,
    steps_agree,
)
from jobwatch_testbed.sim.scenarios import SCENARIOS
from tests.kube.verdicts import ScenarioRun

Runs = tuple[dict[str, list[Trace]], KubeRun]


@pytest.fixture(scope="module")
def runs(scenario_run: ScenarioRun) -> Runs:
    sim = asyncio.run(run_on_sim())
    return sim, scenario_run.run


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_sim_matches_the_real_job_controller(runs: Runs, name: str) -> None:
    sim, real = runs
    namespace = SCENARIOS[name].namespace
    assert real.traces[namespace], "the real control plane ran no Job"
    assert differences(sim[namespace], real.traces[namespace]) == []


def test_steps_may_only_be_batched_away() -> None:
    assert steps_agree([1, 2, 3, 4], [1, 3, 4])
    assert steps_agree([1, 3, 4], [1, 2, 3, 4])
    assert not steps_agree([1, 2, 4], [1, 3, 4])  # a step the other never went through
    assert not steps_agree([1, 3, 2, 4], [1, 2, 3, 4])  # another order
    assert not steps_agree([1, 2, 3], [1, 2, 3, 4])  # another end


def test_the_comparison_sees_a_difference(runs: Runs) -> None:
    """The differential check is not vacuous: a Job with one more failure, or a pod created
    later than the tolerance, is reported."""
    sim, real = runs
    traces = real.traces[SCENARIOS["backoff_limit_exceeded_never"].namespace]
    changed = [
        Trace(t.name, t.created, [s._replace(failed=s.failed + 1) for s in t.states], t.pods)
        for t in traces
    ]
    assert differences(traces, changed)
    reordered = [
        Trace(t.name, t.created, [t.states[0], *reversed(t.states[1:])], t.pods) for t in traces
    ]
    assert differences(traces, reordered)
    late = [
        Trace(t.name, t.created, t.states, [(at + POD_TOLERANCE + 1, i) for at, i in t.pods])
        for t in traces
    ]
    assert any("created at" in d for d in differences(traces, late))
    assert sim  # both ran


POD_WRITE = re.compile(r"^/api/v1/namespaces/[^/]+/pods/[^/]+(/status|/binding)?$")


def test_the_scripted_kubelet_only_writes_pods_and_its_node(runs: Runs) -> None:
    """Only the real Job controller decides about Jobs: the kubelet's writes are pod bindings,
    pod status patches, pod deletions and its Node."""
    _, real = runs
    assert real.kubelet_errors == []
    methods = {m for m, _ in real.kubelet_writes}
    assert {"POST", "PATCH", "DELETE"} <= methods  # it bound, patched status and confirmed deletes
    for method, path in real.kubelet_writes:
        assert POD_WRITE.match(path) or path.startswith("/api/v1/nodes"), (method, path)
        assert "/jobs" not in path
