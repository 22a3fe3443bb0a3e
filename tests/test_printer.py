"""`kubectl get pods` STATUS, READY and RESTARTS as printPod prints them at v1.37.2
(docs/job-semantics.md §5.1): the exporter's `kubectl_status` and the sim's table printer, on
every shape of tests/printer_shapes.py. tests/kube checks the same shapes on the real API server.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobwatch.analysis.kubectl import kubectl_status
from jobwatch.model import parse_pod
from jobwatch_testbed.sim.store import PODS
from jobwatch_testbed.sim.tables import pod_columns, table
from tests.printer_shapes import SHAPES, Shape

IDS = [s.id for s in SHAPES]


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_s5_1_printPod_status_what_jobwatch_says_kubectl_shows(shape: Shape) -> None:
    assert kubectl_status(parse_pod(shape.pod)) == shape.status


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_s5_1_printPod_columns_of_the_sim_table(shape: Shape) -> None:
    ready, status, restarts, _ = pod_columns(shape.pod)
    assert (ready, status, restarts) == (shape.ready, shape.status, shape.restarts)


def test_s5_1_printPod_restarts_cell_says_how_long_ago() -> None:
    shape = next(s for s in SHAPES if s.id == "onfailure_crash_loop")
    finished = shape.pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"]
    now = datetime.fromisoformat(finished).replace(tzinfo=UTC)
    row = table(PODS, [shape.pod], {}, now.replace(second=now.second + 30))["rows"][0]
    assert row["cells"][3] == "2 (30s ago)"


def test_shape_ids_are_unique() -> None:
    assert len(IDS) == len(set(IDS))
