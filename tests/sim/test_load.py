"""The benchmark load generator: realistic objects and the requested MODIFIED rate."""

from __future__ import annotations

import asyncio

from jobwatch_testbed.sim.load import LoadGenerator, start_load
from jobwatch_testbed.sim.store import JOBS, PODS, Store

from .helpers import run


def test_load_generator_populates_and_emits_at_rate() -> None:
    async def body() -> None:
        store = Store(history_size=100_000)
        gen = LoadGenerator(store, jobs=20, pods_per_job=3, events_per_second=400, namespaces=2)
        gen.populate()
        jobs, _ = store.list(JOBS)
        pods, _ = store.list(PODS)
        assert (len(jobs), len(pods)) == (20, 60)
        assert {j["metadata"]["namespace"] for j in jobs} == {"load-0", "load-1"}
        assert all(p["status"]["phase"] == "Running" for p in pods)
        queue = store.subscribe()
        task = gen.start()
        await asyncio.sleep(0.5)
        task.cancel()
        modified = 0
        while not queue.empty():
            event = queue.get_nowait()
            assert event is not None
            assert event.type == "MODIFIED"
            modified += 1
        assert modified == gen.emitted
        assert 150 <= modified <= 260  # 400/s for 0.5 s, with scheduling slack

    run(body)


def test_start_load_returns_a_cancellable_task() -> None:
    async def body() -> None:
        store = Store()
        task = start_load(store, jobs=2, pods_per_job=1, events_per_second=100)
        await asyncio.sleep(0.05)
        task.cancel()
        assert len(store.list(PODS)[0]) == 2

    run(body)
