"""The end-to-end benchmark's API server, in its own process so it does not share a core
or an event loop with the exporter it feeds.

    python -m bench.simproc --jobs 1000 --pods-per-job 2
    stdout: "ready URL"         after the Jobs and pods exist
    stdin:  "start RATE"        -> "started"       MODIFIED events at RATE/s until "stop"
            "stop"              -> "emitted N"     events emitted since "start"
            "quit" (or EOF)     -> exits
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

from jobwatch_testbed.sim import LoadGenerator, SimServer


async def _serve(jobs: int, pods_per_job: int, cloned: bool) -> None:
    async with SimServer(host="127.0.0.1", port=0, history_size=100_000) as sim:
        gen = LoadGenerator(sim.store, jobs=jobs, pods_per_job=pods_per_job, events_per_second=1)
        if cloned:
            gen.populate_cloned()
        else:
            gen.populate()
        # The objects live as long as the process: out of the collector's generations, a burst
        # of allocations (serving, emitting) no longer costs full collections of a heap of
        # millions of containers.
        gc.collect()
        gc.freeze()
        print(f"ready {sim.url}", flush=True)
        loop = asyncio.get_running_loop()
        task: asyncio.Task[None] | None = None
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "start":
                gen.rate, gen.emitted = float(line[1]), 0
                task = gen.start()
                print("started", flush=True)
            elif line[0] == "stop" and task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                print(f"emitted {gen.emitted}", flush=True)
        if task is not None:
            task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.simproc")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--pods-per-job", type=int, default=2)
    parser.add_argument("--cloned", action="store_true", help="fill the store by cloning (fast)")
    args = parser.parse_args()
    asyncio.run(_serve(args.jobs, args.pods_per_job, args.cloned))


if __name__ == "__main__":
    main()
