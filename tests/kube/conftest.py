"""The real control plane for tests/kube: one per session, started on first use.

Binaries missing (`make kube` not run) skip on a developer machine and FAIL under CI=true
(tests/tools.py). Every component is stopped by PID at the end, also after a failed test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from jobwatch_testbed.kube.compare import run_on_kube
from jobwatch_testbed.kube.controlplane import ControlPlane, ControlPlaneError
from jobwatch_testbed.sim.scenarios import SCENARIOS
from tests.kube.verdicts import ScenarioRun, Verdicts
from tests.tools import kube_binaries, unavailable


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    cp = ControlPlane(bins=kube_binaries())
    try:
        cp.start()
    except ControlPlaneError as exc:
        unavailable(f"the control plane did not start: {exc}")
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def scenario_run(control_plane: ControlPlane) -> ScenarioRun:
    verdicts = Verdicts({s.namespace for s in SCENARIOS.values()})
    run = asyncio.run(run_on_kube(control_plane, listeners=[verdicts]))
    return ScenarioRun(run, verdicts)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/kube/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.tool)
