"""The real exporter in its own process, instrumented for the goal benchmarks.

    python -m bench.exporterproc --kubeconfig FILE
    stdout: "base RSS_KIB"                     before the exporter starts
            "ready URL SECONDS"                once /readyz would say ok (first render done)
    stdin:  "stats" -> one JSON line: RSS now and peak (KiB), event-loop lag samples (seconds)
                       overall and while a scrape was being served, gen2 GC pauses, and the
                       age of the oldest unrendered change seen
            "reset" -> "ok"                    forget the lag and GC samples so far
            "quit" (or EOF)                    exits

The lag monitor sleeps `TICK` seconds in a loop; the lag is how much later than asked it woke.
Every event-loop callback that runs longer than `SLOW` is recorded with its wall and main-thread
CPU time and what it was (the task's coroutine), so a lag names its cause: a callback that held
the loop (CPU ≈ wall), or the process waiting for a core or the GIL (CPU ≪ wall).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from jobwatch import server
from jobwatch.serve import Exporter
from jobwatch.settings import settings

TICK = 0.005
SLOW = 0.02  # seconds: callbacks that held the loop longer are recorded
HELD = 0.1  # seconds: where a callback running this long is, is sampled


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


class Probe:
    def __init__(self) -> None:
        self.scrapes: list[tuple[float, float]] = []  # (start, end) of each scrape
        self.lag: list[float] = []
        self.gc_pauses: list[float] = []
        self.unrendered: list[float] = []
        self._gc_started = 0.0
        self._ticks: list[tuple[float, float, float]] = []  # (start, end, lag) per tick
        self.slow: list[tuple[float, float, str]] = []  # (wall, CPU, what) of slow callbacks
        self.young_pauses: list[tuple[int, float]] = []  # (generation, seconds) over SLOW/4
        self.late: list[tuple[float, float]] = []  # (lag, loop thread CPU) of late ticks
        self.stacks: list[str] = []  # where callbacks running past HELD were, sampled
        self._running: tuple[float, int] | None = None  # (start, serial) of the callback now

    def reset(self) -> None:
        self.lag, self.gc_pauses, self.unrendered = [], [], []
        self.scrapes, self._ticks, self.slow, self.stacks = [], [], [], []
        self.late, self.young_pauses = [], []

    def watch_callbacks(self) -> None:
        """Time every event-loop callback (asyncio.Handle._run); record those over SLOW."""
        run = asyncio.Handle._run
        slow = self.slow
        clock, cpu = time.perf_counter, time.thread_time

        serial = itertools.count()

        def timed(handle: asyncio.Handle) -> None:
            started, cpu_started = clock(), cpu()
            self._running = (started, next(serial))
            run(handle)
            self._running = None
            wall = clock() - started
            if wall > SLOW:
                slow.append((wall, cpu() - cpu_started, _what(handle)))

        asyncio.Handle._run = timed  # type: ignore[method-assign]
        main = threading.get_ident()
        threading.Thread(target=self._sample, args=(main,), daemon=True).start()

    def _sample(self, main: int) -> None:
        """Once per callback that runs past HELD: where the event loop's thread is."""
        seen = -1
        while True:
            time.sleep(HELD / 4)
            running = self._running
            if running is None or running[1] == seen or time.perf_counter() - running[0] < HELD:
                continue
            seen = running[1]
            frame = sys._current_frames().get(main)
            if frame is not None and len(self.stacks) < 50:
                where = traceback.extract_stack(frame)[-8:]
                self.stacks.append(" < ".join(f"{f.name}:{f.lineno}" for f in reversed(where)))

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        pause = time.perf_counter() - self._gc_started
        generation = info.get("generation")
        if generation == 2:
            self.gc_pauses.append(pause)
        elif pause > SLOW / 4:  # a young collection that long: collected it is, counted
            self.young_pauses.append((generation, pause))

    async def monitor(self, exporter: Exporter) -> None:
        while True:
            started, cpu_started = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            ended = time.perf_counter()
            lag = ended - started - TICK
            self.lag.append(lag)
            if lag > SLOW:  # the loop's own CPU in that time: ≪ lag means it waited for a core
                self.late.append((lag, time.thread_time() - cpu_started))
            self._ticks.append((started, ended, lag))
            self.unrendered.append(exporter.state.unrendered_age)

    def during_scrapes(self) -> list[float]:
        """Lag of the ticks that overlap a scrape (a scrape may run inside one late tick)."""
        out = []
        spans = sorted(self.scrapes)
        for start, end, lag in self._ticks:
            if any(s < end and e > start for s, e in spans):
                out.append(lag)
        return out

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def counting(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                self.scrapes.append((started, time.perf_counter()))

        return counting


def _what(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        where = f" at line {frame.f_lineno}" if frame is not None else ""
        return f"task {task.get_name()}: {getattr(coro, '__qualname__', coro)}{where}"
    return repr(callback)[:120]


async def _run(kubeconfig: str) -> None:
    probe = Probe()
    probe.watch_callbacks()
    gc.callbacks.append(probe.on_gc)
    original = server.build_app

    def build_app(*args: Any, **kwargs: Any) -> web.Application:
        app = original(*args, **kwargs)
        app.middlewares.append(probe.middleware())
        return app

    server.build_app = build_app  # type: ignore[assignment]
    import jobwatch.cluster  # noqa: F401 - kubernetes_asyncio's import is not per-pod memory

    gc.collect()
    print(f"base {rss_kib()}", flush=True)
    started = time.perf_counter()
    config = settings(kubeconfig=kubeconfig, listen_address="127.0.0.1:0", resync_period=3600.0)
    async with Exporter(config) as exporter:
        await exporter.wait_ready(within=3600)
        print(f"ready {exporter.url} {time.perf_counter() - started:.3f}", flush=True)
        monitor = asyncio.create_task(probe.monitor(exporter))
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "reset":
                probe.reset()
                print("ok", flush=True)
            elif line[0] == "stats":
                stats = {
                    "rss_kib": rss_kib(),
                    "hwm_kib": rss_kib("VmHWM"),
                    "lag": probe.lag,
                    "scrape_lag": probe.during_scrapes(),
                    "gc_pauses": probe.gc_pauses,
                    "unrendered_max": max(probe.unrendered, default=0.0),
                    "slow": sorted(probe.slow, reverse=True)[:30],
                    "slow_count": len(probe.slow),
                    "stacks": probe.stacks,
                    "late": probe.late,
                    "young_pauses": probe.young_pauses,
                    "cpu": sum(os.times()[:2]),  # the process's user + system seconds so far
                    "loop_cpu": time.thread_time(),  # the event loop thread's alone
                    "jobs": len(exporter.state.store.jobs),
                    "pods": len(exporter.state.store.pods),
                }
                sys.stdout.write(orjson.dumps(stats).decode() + "\n")
                sys.stdout.flush()
        monitor.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.exporterproc")
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args()
    asyncio.run(_run(args.kubeconfig))


if __name__ == "__main__":
    main()
