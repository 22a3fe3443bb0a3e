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


async def _alerts(prom: Prometheus) -> tuple[Counter[Key], int]:
    """The firing alerts, and how many are still pending."""
    alerts = await prom.alerts()
    firing = Counter(_key(a["labels"]) for a in alerts if a["state"] == "firing")
    return firing, sum(1 for a in alerts if a["state"] == "pending")


Snapshot = tuple[Counter[Key], dict[Key, float], Counter[Key]]


async def _snapshot(prom: Prometheus) -> tuple[Snapshot, int]:
    firing, pending = await _alerts(prom)
    return (await _series(prom), await _counters(prom), firing), pending


async def _converged(
    single: Prometheus, sharded: Prometheus, want_jobs: int
) -> tuple[Snapshot, Snapshot]:
    """The two snapshots once both see every Job, no alert is pending in either, and they agree
    twice in a row (the two Prometheus servers scrape and evaluate at different moments). The
    snapshots returned are the ones that agreed: a query after the wait could catch one server
    between evaluations, so a mismatch would fail the test without the loop's patience, and
    without pending alerts counted, an alert still on its way could fire in one and not yet
    in the other."""
    agreed = 0
    while True:
        await asyncio.sleep(1.0)
        one, pending_one = await _snapshot(single)
        many, pending_many = await _snapshot(sharded)
        jobs = sum(1 for k in one[0] if dict(k)["__name__"] == m.JOB_STATE.name)
        settled = pending_one == pending_many == 0 and jobs == want_jobs and bool(one[2])
        agreed = agreed + 1 if settled and one == many else 0
        if agreed == 2:
            return one, many


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
                    one, many = await _converged(single, sharded, want_jobs)
                per_shard = [len(e.state.reports()) for e in exporters[1:]]
                return {
                    "series": (one[0], many[0]),
                    "counters": (one[1], many[1]),
                    "alerts": (one[2], many[2]),
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
