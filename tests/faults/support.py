"""What the fault tests share: a Job with one failed pod in the sim, and the truth a scrape tells
(the Jobs with series and the sum of the container failure counter)."""

from __future__ import annotations

from jobwatch import metrics
from jobwatch_testbed.sim import JOBS, SimServer
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job
from jobwatch_testbed.sim.store import PODS
from tests.builders import terminated


def failing_job(sim: SimServer, namespace: str, name: str) -> None:
    """A Job with one pod that failed with exit code 1."""
    job = sim.store.create(JOBS, new_job(namespace, name, [container("c", ["false"])]))
    pod = pod_for_job(job)
    pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [{"name": "c", "restartCount": 0, "state": terminated(1)}],
    }
    sim.store.create(PODS, pod)


def scraped(text: str) -> tuple[set[str], float]:
    """(job_name of every Job with series, total of the container failure counter)."""
    info = metrics.JOB_INFO.name + "{"
    failures_family = metrics.CONTAINER_FAILURES_TOTAL.name + "{"
    names = {
        line.split('job_name="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith(info)
    }
    failures = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(failures_family)
    )
    return names, failures
