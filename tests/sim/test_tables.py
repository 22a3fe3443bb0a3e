"""Server-side Table printing: kubectl's pod STATUS logic and the Job columns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobwatch.sim.scenarios import SCENARIOS
from jobwatch.sim.store import JOBS, PODS, Store
from jobwatch.sim.tables import human_duration, pod_status_text, table


@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        ("multi_container_completed_but_failed", "Completed"),  # phase Failed (§5 myth 3)
        ("failing_sidecar_succeeded_pod", "Completed"),
        ("oomkilled", "OOMKilled"),
        ("start_error_128", "StartError"),
        ("imagepullbackoff_stall", "ImagePullBackOff"),
        ("createcontainerconfigerror_stall", "CreateContainerConfigError"),
        ("unschedulable_stall", "Pending"),
    ],
)
def test_pod_status_column(scenario: str, status: str, played: Store) -> None:
    pods, _ = played.list(PODS, SCENARIOS[scenario].namespace)
    assert [pod_status_text(p) for p in pods] == [status]


def test_job_table_columns(played: Store) -> None:
    jobs, _ = played.list(JOBS, "sim-indexed")
    result = table(JOBS, jobs, {"resourceVersion": "1"}, datetime.now(UTC))
    assert [c["name"] for c in result["columnDefinitions"]] == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
    ]
    assert result["rows"][0]["cells"][:3] == ["per-index", "Failed", "2/4"]
    assert result["rows"][0]["object"]["metadata"]["namespace"] == "sim-indexed"


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 119, 150, 600, 7200, 200_000)] == [
        "5s",
        "119s",
        "2m30s",
        "10m",
        "120m",
        "2d",
    ]
