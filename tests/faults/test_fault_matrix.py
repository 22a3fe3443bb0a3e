"""Every wire and store fault through the whole exporter (issue 11 "Tests that must exist"): the
sim's fault hooks and a loopback TCP proxy between the exporter and the sim. Each case makes
changes while the fault is on (new Jobs with failed pods, deletions, a Job deleted and recreated
under the same name), clears the fault, and ends by comparing the exported series with the
truth: no ghosts, no missing Jobs, the failure counter exact. /readyz and /livez are checked
during the fault and after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.proxy import TCPProxy
from jobwatch_testbed.sim import JOBS, SimServer
from tests.faults.support import failing_job, scraped

pytestmark = pytest.mark.timeout(90)
NS = "faults"
ERROR_504 = orjson.dumps(
    {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 504, "message": "Too large resource version"},
    }
)


@dataclass
class World:
    sim: SimServer
    proxy: TCPProxy
    exporter: Exporter
    failed_pods_since_start: int = 0
    serial: int = 0

    def add_failing_job(self, name: str | None = None) -> str:
        if name is None:
            name, self.serial = f"job-{self.serial:03d}", self.serial + 1
        failing_job(self.sim, NS, name)
        return name

    def changes(self) -> None:
        """What happens in the cluster while the fault is on."""
        for _ in range(3):
            self.add_failing_job()
            self.failed_pods_since_start += 1
        self.sim.store.delete(JOBS, NS, "base-0")
        self.sim.store.delete(JOBS, NS, "base-1")
        self.add_failing_job("base-1")  # recreated under the same name: a new uid, a new failure
        self.failed_pods_since_start += 1


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _converged(world: World) -> None:
    truth: set[str] = set()
    names: set[str] = set()
    failures = -1.0
    try:
        async with asyncio.timeout(30):
            for _ in iter(int, 1):
                truth = {o["metadata"]["name"] for o in world.sim.store.list(JOBS, NS)[0]}
                uids = {o["metadata"]["uid"] for o in world.sim.store.list(JOBS, NS)[0]}
                names, failures = scraped((await _get(f"{world.exporter.url}/metrics"))[1])
                held = {j.uid for j in world.exporter.state.store.jobs.values()}
                if names == truth and held == uids and failures == world.failed_pods_since_start:
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        pass
    raise AssertionError(
        f"ghosts {names - truth}, missing {truth - names}, "
        f"failures {failures} != {world.failed_pods_since_start}"
    )


async def _probes(world: World) -> dict[str, int]:
    return {p: (await _get(f"{world.exporter.url}/{p}"))[0] for p in ("readyz", "livez")}


def _another_history(world: World) -> None:
    """A restored server whose resourceVersions continue past the exporter's: the watch resumes
    without 410 into a history that never deleted the old objects (only the periodic relist
    can find out)."""
    store = world.sim.store
    rv = store.resource_version
    store.reset_resource_version(rv - 1, keep_objects=False)
    for i in range(4):
        world.add_failing_job(f"restored-{i}")
        world.failed_pods_since_start += 1


Fault = Callable[[World], object]


def _nothing(_world: World) -> None:
    return None


def _then_drop(step: Callable[[World], object]) -> Fault:
    """`step`, then drop the open watches so the next request meets it."""

    def fault(world: World) -> None:
        step(world)
        world.sim.faults.drop_watches()

    return fault


def _clear(world: World) -> None:
    world.sim.faults.clear()


def _compact_and_drop(world: World) -> None:
    world.sim.faults.compact()
    world.sim.faults.drop_watches()


def _duplicate_and_reorder(world: World) -> None:
    world.sim.faults.duplicate_events(6)
    world.sim.faults.reorder_events(3)


def _unblackhole(world: World) -> None:
    world.proxy.restore()
    world.proxy.cut()


CASES: dict[str, tuple[Fault, Fault]] = {
    "drop-watches": (lambda w: w.sim.faults.drop_watches(), _nothing),
    "blackhole-watches": (lambda w: w.sim.faults.blackhole(), _clear),
    "5xx-burst": (_then_drop(lambda w: w.sim.faults.fail_next(6, 503)), _nothing),
    "429-burst": (_then_drop(lambda w: w.sim.faults.throttle_next(3, retry_after=1)), _nothing),
    "410-after-compaction": (_nothing, _compact_and_drop),
    "restart-lower-rv": (_nothing, lambda w: w.sim.faults.restart(start_rv=1)),
    "duplicates-and-reorders": (_duplicate_and_reorder, _clear),
    "slow-responses": (lambda w: w.sim.faults.delay(0.3), _clear),
    "error-event-answers": (
        _then_drop(lambda w: w.sim.faults.answer_watches(ERROR_504 + b"\n")),
        _clear,
    ),
    "empty-watch-answers": (_then_drop(lambda w: w.sim.faults.answer_watches(b"")), _clear),
    "html-answers": (
        _then_drop(lambda w: w.sim.faults.answer_watches(b"<html>bad gateway</html>\n")),
        _clear,
    ),
    "tcp-cut": (lambda w: w.proxy.cut(), _nothing),
    "tcp-refuse": (lambda w: w.proxy.refuse(), lambda w: w.proxy.restore()),
    "tcp-blackhole": (lambda w: w.proxy.blackhole(), _unblackhole),
}


@pytest.mark.parametrize("case", sorted([*CASES, "another-servers-history"]))
async def test_fault_ends_in_the_truth(case: str, tmp_path: Path) -> None:
    async with (
        SimServer("127.0.0.1", 0, bookmark_period=0.5) as sim,
        TCPProxy("127.0.0.1", sim.port) as proxy,
    ):
        kubeconfig = sim.write_kubeconfig(tmp_path / "kc")
        text = kubeconfig.read_text().replace(f":{sim.port}", f":{proxy.port}")
        kubeconfig.write_text(text)
        for i in range(4):
            failing_job(sim, NS, f"base-{i}")
        config = settings(
            kubeconfig=str(kubeconfig),
            listen_address="127.0.0.1:0",
            namespaces=(NS,),
            watch_cronjobs=False,
            watch_idle_timeout=2.0,
            resync_period=1.0,
            relist_period=3.0 if case == "another-servers-history" else 3600.0,
        )
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            world = World(sim, proxy, exporter)
            await _converged(world)  # the baseline: nothing counted yet
            if case == "another-servers-history":
                await _run_history(world)
            else:
                await _run(world, *CASES[case])
            assert await _probes(world) == {"readyz": 200, "livez": 200}


async def _run(world: World, inject: Fault, clear: Fault) -> None:
    inject(world)
    await asyncio.sleep(0.3)
    world.changes()
    await asyncio.sleep(0.5)
    during = await _probes(world)
    assert during["readyz"] == 200  # once synced, a fault never makes the pod unready
    assert during["livez"] == 200  # well within --livez.max-silence
    clear(world)
    await _converged(world)


async def _run_history(world: World) -> None:
    _another_history(world)
    await _converged(world)
    assert world.exporter.state.telemetry.drift.value(("jobs",)) >= 4
