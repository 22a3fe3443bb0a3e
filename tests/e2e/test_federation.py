"""Multi-cluster through the `cluster` label, with real Prometheus federation.

Two clusters (two sims, two exporters) each have a Prometheus with `external_labels:
{cluster: a|b}`; a third, global Prometheus federates `{job="jobwatch"}` from both
(`honor_labels: true`) and evaluates the rule pack rendered with `cluster_label: cluster`. Both
clusters run the same failing Job (same namespace and name), and cluster b also a stalled one:

- the global alerts are per cluster: the shared Job alerts once in each, the stall only in b;
- the dashboard's cluster variable lists both clusters, and a panel query for `$cluster=a`
  returns cluster a's series only.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from jobwatch.render.config import load_config
from jobwatch.render.dashboard import SUBSTITUTIONS, build, panel_queries
from jobwatch.render.rules import write_rules
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.monitoring import Prometheus, prometheus_config, run_prometheus_with
from jobwatch_testbed.sim import ScenarioPlayer, SimServer
from jobwatch_testbed.stack import compressed_time
from tests.tools import tool

TIMEOUT = 120.0
SHARED = "backoff_limit_exceeded_never"  # sim-backoff-never/backofflimit: JobBackoffLimitExceeded
ONLY_B = "imagepullbackoff_stall"  # sim-imagepull/invalid-image: JobStalled
WANT = Counter(
    {
        ("JobBackoffLimitExceeded", "a", "sim-backoff-never"): 1,
        ("JobBackoffLimitExceeded", "b", "sim-backoff-never"): 1,
        ("JobStalled", "b", "sim-imagepull"): 1,
    }
)


def _federation(targets: list[str], rules: list[Path]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(r) for r in rules],
        "scrape_configs": [
            {
                "job_name": "federate",
                "honor_labels": True,
                "metrics_path": "/federate",
                "params": {"match[]": ['{job="jobwatch"}']},
                "static_configs": [{"targets": targets}],
            }
        ],
    }


async def _firing(prom: Prometheus) -> Counter[tuple[str, str, str]]:
    alerts = await prom.alerts()
    return Counter(
        (a["labels"]["alertname"], a["labels"].get("cluster", ""), a["labels"].get("namespace", ""))
        for a in alerts
        if a["state"] == "firing"
        and a["labels"]["alertname"] in {"JobBackoffLimitExceeded", "JobStalled"}
    )


async def _label_values(prom: Prometheus, label: str, match: str) -> list[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{prom.url}/api/v1/label/{label}/values", params={"match[]": match}) as r,
    ):
        body = await r.json()
    values: list[str] = body["data"]
    return values


async def _run() -> dict[str, Any]:
    cfg = load_config(overrides={**compressed_time(load_config()), "cluster_label": "cluster"})
    with tempfile.TemporaryDirectory(prefix="jobwatch-federation-") as tmp:
        directory = Path(tmp)
        rules = write_rules(directory / "rules", cfg=cfg, formats=("prometheus",))
        async with contextlib.AsyncExitStack() as stack:
            locals_: list[str] = []
            players = []
            for cluster, scenarios in (("a", [SHARED]), ("b", [SHARED, ONLY_B])):
                sim = await stack.enter_async_context(
                    SimServer("127.0.0.1", 0, bookmark_period=2.0)
                )
                kubeconfig = sim.write_kubeconfig(directory / f"kubeconfig-{cluster}")
                options = settings(
                    kubeconfig=str(kubeconfig), listen_address="127.0.0.1:0", resync_period=1.0
                )
                exporter = await stack.enter_async_context(Exporter(options))
                await exporter.wait_ready()
                config = prometheus_config([exporter.url.removeprefix("http://")], [], None, "1s")
                config["global"]["external_labels"] = {"cluster": cluster}
                local = await stack.enter_async_context(run_prometheus_with(yaml.safe_dump(config)))
                locals_.append(local.url.removeprefix("http://"))
                players.append(
                    ScenarioPlayer(sim.store, speed=100).run(scenarios, until_settled=True)
                )
            world = await stack.enter_async_context(
                run_prometheus_with(yaml.safe_dump(_federation(locals_, rules)))
            )
            await asyncio.gather(*players)
            async with asyncio.timeout(TIMEOUT):
                while True:
                    firing = await _firing(world)
                    if firing == WANT:
                        break
                    await asyncio.sleep(1.0)  # Prometheus has no push: poll its alerts
            variable = next(v for v in build(cfg)["templating"]["list"] if v["name"] == "cluster")
            selector = variable["query"]["query"].removeprefix("label_values(").rsplit(",", 1)[0]
            for name, value in SUBSTITUTIONS.items():
                selector = selector.replace(name, value)
            clusters = await _label_values(world, "cluster", selector)
            in_a: list[dict[str, Any]] = []
            for query in panel_queries(cfg, substituted=False):
                expr = query.expr.replace("$cluster", "a")
                for name, value in SUBSTITUTIONS.items():
                    expr = expr.replace(name, value)
                in_a.extend(await world.query(expr))
            return {"firing": firing, "clusters": clusters, "in_a": in_a}


def test_federated_clusters_keep_their_alerts_and_dashboard_apart() -> None:
    tool("prometheus")
    result = asyncio.run(_run())
    assert result["firing"] == WANT  # once per cluster, labelled with it
    assert sorted(result["clusters"]) == ["a", "b"]
    labelled = [s["metric"]["cluster"] for s in result["in_a"] if "cluster" in s["metric"]]
    assert labelled  # the panels keep the cluster label...
    assert set(labelled) == {"a"}  # ...and $cluster=a shows cluster a only
