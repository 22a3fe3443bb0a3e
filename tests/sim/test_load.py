"""The benchmark load generator: realistic objects and the requested MODIFIED rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from jobwatch_testbed.sim.load import TICK, LoadGenerator, start_load
from jobwatch_testbed.sim.store import JOBS, PODS, Store
from jobwatch_testbed.sim.timing import VirtualClock

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)


async def test_load_generator_populates_and_emits_at_rate() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = Store(history_size=100_000, clock=clock.now)
    gen = LoadGenerator(
        store,
        jobs=20,
        pods_per_job=3,
        events_per_second=400,
        namespaces=2,
        clock=clock.now,
        sleep=clock.sleep,
    )
    gen.populate()
    jobs, _ = store.list(JOBS)
    pods, _ = store.list(PODS)
    assert (len(jobs), len(pods)) == (20, 60)
    assert {j["metadata"]["namespace"] for j in jobs} == {"load-0", "load-1"}
    assert all(p["status"]["phase"] == "Running" for p in pods)
    queue = store.subscribe()
    driver = asyncio.create_task(clock.drive())
    task = gen.start()
    await clock.sleep(0.5)  # half a virtual second, however busy the machine
    task.cancel()
    driver.cancel()
    modified = 0
    while not queue.empty():
        event = queue.get_nowait()
        assert event is not None
        assert event.type == "MODIFIED"
        modified += 1
    assert modified == gen.emitted
    # 400/s for 0.5 s: the loop catches up every TICK, so at most one tick's worth is pending.
    assert 400 * (0.5 - TICK) <= modified <= 400 * 0.5


async def test_start_load_returns_a_cancellable_task() -> None:
    store = Store()
    task = start_load(store, jobs=2, pods_per_job=1, events_per_second=100)
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    assert len(store.list(PODS)[0]) == 2
