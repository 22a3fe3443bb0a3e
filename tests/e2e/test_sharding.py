"""Sharding with real Prometheus: three shards together export exactly what one instance does.

The sim plays every scenario once. Four real exporters watch it: one unsharded, and shards 0, 1
and 2 of 3. One Prometheus scrapes the single exporter, another scrapes the three shards, both
as job "jobwatch" with the generated rules (compressed `for:`). Then, in Prometheus:

- every Job and CronJob series is exported by exactly one shard (no duplicate once the
  `instance` label is dropped), and the shards' series are exactly the single exporter's;
- the failure counters summed over the shards equal the single exporter's;
- every alert that fires for the single exporter fires exactly once for the shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from jobwatch import metrics as m
from jobwatch.render.config import load_config
from jobwatch.render.rules import write_rules
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.monitoring import Prometheus, run_prometheus
from jobwatch_testbed.sim import JOBS, ScenarioPlayer, SimServer
from jobwatch_testbed.stack import compressed_time
from tests.tools import tool

SHARDS = 3
TIMEOUT = 150.0
SERIES = '{__name__=~"jobwatch_(job|cronjob)_.+",__name__!~"jobwatch_job_failures_total"}'
COUNTERS = (m.JOB_FAILURES_TOTAL.name, m.CONTAINER_FAILURES_TOTAL.name)

Key = tuple[tuple[str, str], ...]


def _key(labels: dict[str, str]) -> Key:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "instance"))


async def _series(prom: Prometheus) -> Counter[Key]:
    found = await prom.query(SERIES)
    return Counter(_key(s["metric"]) for s in found if s["metric"]["__name__"] not in COUNTERS)


async def _counters(prom: Prometheus) -> dict[Key, float]:
    out: dict[Key, float] = {}
    for name in COUNTERS:
        for s in await prom.query(f"sum without (instance) ({name})"):
            out[_key({**s["metric"], "__name__": name})] = float(s["value"][1])
    return out


async def _firing(prom: Prometheus) -> Counter[Key]:
    return Counter(_key(a["labels"]) for a in await prom.alerts() if a["state"] == "firing")


async def _converged(single: Prometheus, sharded: Prometheus, want_jobs: int) -> None:
    """Until both see every Job and agree on the series, counters and firing alerts twice in
    a row (the two Prometheus servers scrape at different moments)."""
    agreed = 0
    while agreed < 2:
        await asyncio.sleep(1.0)
        one, many = await _series(single), await _series(sharded)
        jobs = sum(1 for k in one if dict(k)["__name__"] == m.JOB_STATE.name)
        alerts_one, alerts_many = await _firing(single), await _firing(sharded)
        same = one == many and alerts_one == alerts_many and bool(alerts_one)
        same = same and await _counters(single) == await _counters(sharded)
        agreed = agreed + 1 if same and jobs == want_jobs else 0


async def _run() -> dict[str, Any]:
    cfg = load_config(overrides=compressed_time(load_config()))
    with tempfile.TemporaryDirectory(prefix="jobwatch-shards-") as tmp:
        directory = Path(tmp)
        rules = write_rules(directory / "rules", cfg=cfg, formats=("prometheus",))
        async with SimServer("127.0.0.1", 0, bookmark_period=2.0) as sim:
            kubeconfig = str(sim.write_kubeconfig(directory / "kubeconfig"))
            async with contextlib.AsyncExitStack() as stack:
                exporters = []
                for shard, total in [(0, 1), *((i, SHARDS) for i in range(SHARDS))]:
                    options = settings(
                        kubeconfig=kubeconfig,
                        listen_address="127.0.0.1:0",
                        shard=shard,
                        total_shards=total,
                        resync_period=1.0,
                    )
                    exporters.append(await stack.enter_async_context(Exporter(options)))
                for exporter in exporters:
                    await exporter.wait_ready()
                targets = [e.url.removeprefix("http://") for e in exporters]
                single = await stack.enter_async_context(
                    run_prometheus(targets[:1], rules, interval="1s")
                )
                sharded = await stack.enter_async_context(
                    run_prometheus(targets[1:], rules, interval="1s")
                )
                await ScenarioPlayer(sim.store, speed=100).run(until_settled=True)
                want_jobs = len(sim.store.list(JOBS)[0])
                async with asyncio.timeout(TIMEOUT):
                    await _converged(single, sharded, want_jobs)
                per_shard = [len(e.state.reports()) for e in exporters[1:]]
                return {
                    "series": (await _series(single), await _series(sharded)),
                    "counters": (await _counters(single), await _counters(sharded)),
                    "alerts": (await _firing(single), await _firing(sharded)),
                    "per_shard": per_shard,
                    "jobs": want_jobs,
                }


def test_shards_export_exactly_one_instance_and_alerts_fire_once() -> None:
    tool("prometheus")
    result = asyncio.run(_run())
    one, many = result["series"]
    assert many == one
    assert set(many.values()) == {1}  # no series from two shards
    assert len(one) > 100
    counters_one, counters_many = result["counters"]
    assert counters_many == counters_one
    assert counters_one
    alerts_one, alerts_many = result["alerts"]
    assert alerts_many == alerts_one
    assert set(alerts_many.values()) == {1}  # each alert fires once, not once per shard
    assert len(alerts_one) >= 5
    per_shard = result["per_shard"]
    assert sum(per_shard) == result["jobs"]
    assert all(n > 0 for n in per_shard)  # the hash spreads the Jobs
