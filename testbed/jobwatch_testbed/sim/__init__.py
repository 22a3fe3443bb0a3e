"""jobwatch_testbed.sim: an embedded Kubernetes API-server subset and a Job scenario player.

Used by `jobwatch demo`, the exporter's integration tests, the benchmarks and the fault suite.
Nothing here imports `jobwatch.analysis`: Job and Pod statuses are written from the spec
(docs/job-semantics.md, cited as §n), so tests compare the analysis with an independent model.

    from jobwatch_testbed.sim import SimServer, ScenarioPlayer, SCENARIOS

    async with SimServer(host="127.0.0.1", port=0, bookmark_period=60.0,
                         history_size=10_000) as sim:
        sim.url                           # "http://127.0.0.1:PORT"
        sim.write_kubeconfig(path)        # kubeconfig (plain http, no auth) -> Path
        sim.store                         # Store: create/get/list/update/patch/delete (events)
        sim.faults                        # Faults: drop_watches, blackhole, fail_next,
                                          # throttle_next, compact, restart, delay,
                                          # duplicate_events, reorder_events, clear
        player = ScenarioPlayer(sim.store, speed=20.0)
        task = asyncio.create_task(player.run(["backoff_limit_exceeded_never", "healthy"]))
        await player.all_settled.wait()   # telling states reached; run() idles until cancelled
        # (or: await player.run(names, until_settled=True) returns there and stops activity)

Modules (one job each):
    store       objects, resourceVersions, watch history, compaction, finalizers, GC
    selectors   labelSelector / fieldSelector parsing
    patch       merge / JSON / strategic(-as-merge) patch
    server      aiohttp app: discovery, LIST (paging), WATCH, CREATE/PUT/PATCH/DELETE
    faults      wire-level misbehaviour switches
    kubeconfig  kubeconfig text for the server
    objects     real-shaped Job / Pod / CronJob builders and API defaulting
    timing      SimTime (speed factor), VirtualClock (deterministic tests)
    kubelet     container states, CrashLoopBackOff, pod phase; per-pod scripts
    controller  the Job controller model (accounting, backoff, conditions)
    scenarios   the 20 named scenarios (SCENARIOS), each with its telling state
    player      ScenarioPlayer
    load        LoadGenerator / start_load for benchmarks
    command     `jobwatch sim`
"""

from jobwatch_testbed.sim.faults import Faults
from jobwatch_testbed.sim.load import LoadGenerator, start_load
from jobwatch_testbed.sim.player import ScenarioPlayer, UnknownScenarioError
from jobwatch_testbed.sim.scenarios import SCENARIOS, Scenario
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import CRONJOBS, JOBS, PODS, ApiError, Event, Resource, Store
from jobwatch_testbed.sim.timing import DEFAULT_SPEED, SimTime, VirtualClock

__all__ = [
    "CRONJOBS",
    "DEFAULT_SPEED",
    "JOBS",
    "PODS",
    "SCENARIOS",
    "ApiError",
    "Event",
    "Faults",
    "LoadGenerator",
    "Resource",
    "Scenario",
    "ScenarioPlayer",
    "SimServer",
    "SimTime",
    "Store",
    "UnknownScenarioError",
    "VirtualClock",
    "start_load",
]
