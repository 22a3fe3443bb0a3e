"""Simulated time: real wall-clock timestamps, waits compressed by a speed factor.

`SimTime(speed=20)` sleeps `seconds / speed` for a simulated wait of `seconds`; timestamps
written into objects come from `clock()` (real UTC wall clock by default). `elapsed()` is the
simulated time since start, used by the controllers for backoff and deadlines. Inject `clock`
and `sleep` (e.g. a fake clock that `sleep` advances) for deterministic tests.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from jobwatch_testbed.sim.clock import Clock, rfc3339, utcnow

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_SPEED = 20.0
MIN_POLL = 0.002


class SimTime:
    def __init__(
        self, speed: float = DEFAULT_SPEED, clock: Clock = utcnow, sleep: Sleep = asyncio.sleep
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.clock = clock
        self._sleep = sleep
        self._start = clock()

    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> str:
        return rfc3339(self.clock())

    def elapsed(self) -> float:
        """Simulated seconds since this SimTime was created."""
        return (self.clock() - self._start).total_seconds() * self.speed

    async def poll(self, seconds: float) -> None:
        """A polling wait: `seconds` of simulated time but at least `MIN_POLL` real seconds,
        so high speeds do not spin the event loop."""
        await self._sleep(max(MIN_POLL, max(0.0, seconds) / self.speed))

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time."""
        await self._sleep(max(0.0, seconds) / self.speed)


class VirtualClock:
    """Deterministic time for tests: `now()` only moves when every task is asleep.

        vc = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
        store = Store(clock=vc.now)          # creation/deletion timestamps come from the store
        driver = asyncio.create_task(vc.drive())
        player = ScenarioPlayer(store, speed=1.0, clock=vc.now, sleep=vc.sleep)
        await player.run(until_settled=True); driver.cancel()

    `drive()` lets runnable tasks run (a few event-loop turns), then jumps to the earliest
    pending `sleep` deadline and wakes it. Timestamps in objects then show simulated durations.
    """

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = 0

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=max(0.0, seconds)), self._seq, future)
        )
        await future

    async def drive(self, settle_turns: int = 20) -> None:
        while True:
            for _ in range(settle_turns):
                await asyncio.sleep(0)
            while self._sleepers:
                when, _, future = heapq.heappop(self._sleepers)
                if future.done():
                    continue
                self._now = max(self._now, when)
                future.set_result(None)
                break
