"""The scenario player: runs named scenarios against a store, like a cluster would.

    async with SimServer() as sim:
        player = ScenarioPlayer(sim.store, speed=20.0)
        task = asyncio.create_task(player.run(["healthy", "oomkilled"]))  # None = all
        await player.all_settled.wait()   # every scenario is in its telling state; run() now
                                          # idles (stalls stay stalled) until cancelled
        ...; task.cancel()

    # in tests: play everything fast, return at the telling states (activity stopped)
    await ScenarioPlayer(store, speed=1000).run(until_settled=True)

Scenario names, namespaces and telling states: `jobwatch_testbed.sim.scenarios.SCENARIOS`.
Timestamps are wall-clock UTC (`clock`); only waits are divided by `speed`. For a
deterministic run use `jobwatch_testbed.sim.timing.VirtualClock`: pass its `now`/`sleep` here and its
`now` as the Store's clock (the store stamps creationTimestamp/deletionTimestamp).

Telling states are checked with each `Scenario.settled(store, scenario)`;
`player.settled(scenarios)` lists those reached. At the default speed (20) every scenario
settles within 15 s (the CronJob one last, ~9 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from jobwatch_testbed.sim.clock import Clock, utcnow
from jobwatch_testbed.sim.cluster import SimCluster
from jobwatch_testbed.sim.controller import Env
from jobwatch_testbed.sim.kubelet import Kubelet
from jobwatch_testbed.sim.scenarios import SCENARIOS, Scenario
from jobwatch_testbed.sim.store import Store
from jobwatch_testbed.sim.timing import DEFAULT_SPEED, SimTime, Sleep


class UnknownScenarioError(KeyError):
    pass


def select(names: Sequence[str] | None) -> list[Scenario]:
    if not names:
        return list(SCENARIOS.values())
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise UnknownScenarioError(f"unknown scenario(s): {', '.join(unknown)}")
    return [SCENARIOS[n] for n in names]


class ScenarioPlayer:
    def __init__(
        self,
        store: Store,
        speed: float = DEFAULT_SPEED,
        *,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        poll_interval: float = 0.01,
    ) -> None:
        self.store = store
        self.time = SimTime(speed, clock, sleep)
        self.kubelet = Kubelet(store, self.time)
        self.env = Env(store, self.time, self.kubelet)
        self.cluster = SimCluster(self.env)
        self._poll = poll_interval
        self._sleep = sleep
        self.all_settled = asyncio.Event()
        """Set by `run()` once every scenario it plays reached its telling state."""

    def settled(self, scenarios: Sequence[Scenario]) -> list[Scenario]:
        """The scenarios whose telling state is reached."""
        return [s for s in scenarios if s.settled(self.store, s)]

    async def run(
        self, names: Sequence[str] | None = None, *, until_settled: bool = False
    ) -> list[Scenario]:
        """Play the scenarios concurrently. Returns (with `until_settled`) once all are in
        their telling state; otherwise keeps them running until cancelled."""
        scenarios = select(names)
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(s.play(self.cluster, s), name=f"scenario:{s.name}")
            for s in scenarios
        ]
        try:
            while len(self.settled(scenarios)) < len(scenarios):
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        task.result()
                await self._sleep(self._poll)
            self.all_settled.set()
            if until_settled:
                return scenarios
            await asyncio.Event().wait()
            return scenarios  # pragma: no cover
        finally:
            await self.stop(tasks)

    async def stop(self, tasks: Sequence[asyncio.Task[Any]] = ()) -> None:
        everything = [*tasks, *self.kubelet.tasks]
        for task in everything:
            task.cancel()
        for task in everything:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
