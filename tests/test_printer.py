"""`kubectl get pods` STATUS, READY and RESTARTS as printPod prints them at v1.37.2
(docs/job-semantics.md §5.1): the exporter's `kubectl_status` and the sim's table printer, on
every shape of tests/printer_shapes.py. tests/kube checks the same shapes on the real API server.
"""

from __future__ import annotations

import pytest

from jobwatch.analysis.kubectl import kubectl_status
from jobwatch.model import parse_pod
from tests.printer_shapes import SHAPES, Shape

IDS = [s.id for s in SHAPES]


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_s5_1_printPod_status_what_jobwatch_says_kubectl_shows(shape: Shape) -> None:
    assert kubectl_status(parse_pod(shape.pod)) == shape.status


def test_shape_ids_are_unique() -> None:
    assert len(IDS) == len(set(IDS))
