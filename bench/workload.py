"""Realistic raw objects for the in-process benchmarks, from the sim's `LoadGenerator`.

The sim's store writes Jobs and pods the way the API server and kubelet do (defaulting, status,
conditions, container states), so these are the dicts the informers hand to `ExporterState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from jobwatch_testbed.sim.load import LoadGenerator
from jobwatch_testbed.sim.store import JOBS, PODS, Store

Raw = dict[str, Any]


@dataclass(frozen=True)
class Cluster:
    jobs: list[Raw]
    pods: list[Raw]

    def first(self, count: int) -> Cluster:
        """The first `count` Jobs and exactly their pods."""
        jobs = self.jobs[:count]
        uids = {j["metadata"]["uid"] for j in jobs}
        pods = [p for p in self.pods if p["metadata"]["ownerReferences"][0]["uid"] in uids]
        return Cluster(jobs, pods)


def generator(jobs: int, pods_per_job: int) -> LoadGenerator:
    """A populated generator on a store that keeps no watch history."""
    gen = LoadGenerator(
        Store(history_size=1), jobs=jobs, pods_per_job=pods_per_job, events_per_second=1
    )
    gen.populate()
    return gen


def cluster(jobs: int, pods_per_job: int) -> Cluster:
    store = generator(jobs, pods_per_job).store
    return Cluster(store.list(JOBS)[0], store.list(PODS)[0])


def modified_pod_lines(gen: LoadGenerator, count: int) -> list[bytes]:
    """`count` watch lines, one per LoadGenerator step: what the pod informer reads."""
    queue = gen.store.subscribe()
    lines: list[bytes] = []
    try:
        for _ in range(count):
            gen.step()
            while not queue.empty():
                event = queue.get_nowait()
                if event is not None and event.resource == PODS:
                    lines.append(orjson.dumps({"type": event.type, "object": event.object}))
    finally:
        gen.store.unsubscribe(queue)
    return lines
