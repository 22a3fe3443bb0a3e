"""Backoff and crash-loop delays, seen in object timestamps under a virtual clock (§n:
docs/job-semantics.md)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from jobwatch_testbed.sim.clock import parse_rfc3339
from jobwatch_testbed.sim.controller import pod_backoff
from jobwatch_testbed.sim.kubelet import crashloop_delay
from jobwatch_testbed.sim.player import ScenarioPlayer
from jobwatch_testbed.sim.scenarios import SCENARIOS
from jobwatch_testbed.sim.store import PODS, Store
from jobwatch_testbed.sim.timing import VirtualClock


def test_pod_failure_backoff_doubles_from_10s_and_caps_at_10_minutes() -> None:
    # §3.1: 10, 20, 40, 80, 160, 320, 600, 600 ... (not 6 minutes)
    assert [pod_backoff(n) for n in range(9)] == [0, 10, 20, 40, 80, 160, 320, 600, 600]


def test_crashloop_backoff_first_restart_immediate_then_10s_capped_at_300s() -> None:
    # §3.2: immediate, then 10, 20, 40, 80, 160, 300, 300 ...
    assert [crashloop_delay(n) for n in range(9)] == [0, 10, 20, 40, 80, 160, 300, 300, 300]


async def _play_virtual(name: str) -> Store:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = Store(clock=clock.now)  # creationTimestamp / deletionTimestamp come from the store
    driver = asyncio.create_task(clock.drive())
    player = ScenarioPlayer(store, speed=1.0, clock=clock.now, sleep=clock.sleep)
    await player.run([name], until_settled=True)
    driver.cancel()
    return store


def _gaps(store: Store, namespace: str) -> list[float]:
    """Seconds from each failed pod's finish to the creation of the next pod."""
    pods, _ = store.list(PODS, namespace)
    pods.sort(key=lambda p: p["metadata"]["creationTimestamp"])
    gaps = []
    for before, after in itertools.pairwise(pods):
        finished = before["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
        created = after["metadata"]["creationTimestamp"]
        gaps.append((parse_rfc3339(created) - parse_rfc3339(finished)).total_seconds())
    return gaps


async def test_replacement_pods_wait_the_job_backoff_under_virtual_time() -> None:
    store = await _play_virtual("complete_after_two_failures")
    gaps = _gaps(store, "sim-retry-success")
    assert len(gaps) == 2
    # 10 s then 20 s after the failure, plus at most the 1 s sync period (and rounding).
    assert 10 <= gaps[0] <= 12
    assert 20 <= gaps[1] <= 22


async def test_crash_loop_restart_times_under_virtual_time() -> None:
    store = await _play_virtual("onfailure_oom_then_success")
    pod = store.list(PODS, "sim-oom-restarts")[0][0]
    main = pod["status"]["containerStatuses"][0]
    last = main["lastState"]["terminated"]
    restarted = parse_rfc3339(main["state"]["terminated"]["startedAt"])
    # The second restart comes 10 s after the previous exit (first restart was immediate).
    assert (restarted - parse_rfc3339(last["finishedAt"])).total_seconds() == 10


async def test_every_scenario_settles_within_15_seconds_at_default_speed() -> None:
    """The issue's promise, checked in virtual time (so the test itself takes < 1 s)."""
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = Store(clock=clock.now)
    start = clock.now()
    settled_at: dict[str, float] = {}

    driver = asyncio.create_task(clock.drive())
    player = ScenarioPlayer(store, clock=clock.now, sleep=clock.sleep)  # default speed

    async def observe() -> None:
        while len(settled_at) < len(SCENARIOS):
            for s in SCENARIOS.values():
                if s.name not in settled_at and s.settled(store, s):
                    settled_at[s.name] = (clock.now() - start).total_seconds()
            await clock.sleep(0.05)

    watcher = asyncio.create_task(observe())
    await player.run(until_settled=True)
    await watcher
    driver.cancel()
    assert sorted(settled_at) == sorted(SCENARIOS)
    slow = {name: t for name, t in settled_at.items() if t >= 15}
    assert slow == {}
    assert settled_at["cronjob_three_failures_then_success"] > 8  # 3 minutes / speed 20
