"""Server-side Table printing: kubectl's pod STATUS logic (docs/job-semantics.md §5.1) and the Job
columns."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import orjson
import pytest

from jobwatch_testbed.sim.scenarios import SCENARIOS
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, PODS, Store
from jobwatch_testbed.sim.tables import human_duration, pod_status_text, table

from .helpers import simple_job

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        ("multi_container_completed_but_failed", "Error"),  # printPod v1.37.2 (§5.1)
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


async def test_list_and_watch_serve_tables_when_asked() -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

    async with SimServer() as sim, aiohttp.ClientSession(headers={"Accept": accept}) as s:
        sim.store.create(JOBS, simple_job("t", "first"))
        async with s.get(f"{sim.url}/apis/batch/v1/namespaces/t/jobs") as resp:
            listed = await resp.json()
        assert listed["kind"] == "Table"
        assert [r["cells"][0] for r in listed["rows"]] == ["first"]
        rv = listed["metadata"]["resourceVersion"]
        url = f"{sim.url}/apis/batch/v1/namespaces/t/jobs?watch=true&resourceVersion={rv}"
        async with s.get(url) as resp:
            sim.store.create(JOBS, simple_job("t", "second"))
            event = orjson.loads(await resp.content.readline())
        assert event["type"] == "ADDED"
        assert event["object"]["kind"] == "Table"
        assert event["object"]["rows"][0]["cells"][:2] == ["second", "Running"]
