"""The real control plane for tests/kube: one per session, started on first use.

Binaries missing (`make kube` not run) skip on a developer machine and FAIL under CI=true
(tests/tools.py). Every component is stopped by PID at the end, also after a failed test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobwatch_testbed.kube.controlplane import ControlPlane, ControlPlaneError
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/kube/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.tool)
