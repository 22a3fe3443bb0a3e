"""The whole jobwatch stack on one machine: the embedded cluster playing scenarios, the exporter
watching it, and (when installed) Prometheus with the generated rules and Alertmanager with the
generated routing and templates, notifying a local webhook receiver.

`jobwatch demo` and the end-to-end tests both run this, so the demo is what the tests prove.
Time is compressed: the sim plays scenarios `speed` times faster than real, and the rules are
rendered with short `for:` and thresholds (`compressed_time`) so alerts fire within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from jobwatch.render.alertmanager import write_alertmanager
from jobwatch.render.config import Config, load_config
from jobwatch.render.rules import write_rules
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.kube.controlplane import ControlPlane
from jobwatch_testbed.kube.scenarios import KubeCluster, KubePlayer
from jobwatch_testbed.monitoring import (
    ALERTMANAGER,
    PROMETHEUS,
    Alertmanager,
    Prometheus,
    ToolMissingError,
    WebhookReceiver,
    find_tool,
    run_alertmanager,
    run_prometheus,
    run_webhook_receiver,
)
from jobwatch_testbed.sim import DEFAULT_SPEED, ScenarioPlayer, SimServer
from jobwatch_testbed.sim.player import select

ALERT_FOR = "3s"


def compressed_time(cfg: Config) -> dict[str, Any]:
    """Rule knobs for a demo that plays a day of Job trouble in a minute: every alert of `cfg`
    (the defaults) gets a short `for:`; everything else stays as it is."""
    return {
        "alerts": {
            **{name: {"for": ALERT_FOR} for name in cfg["alerts"]},
            "JobStalled": {"for": ALERT_FOR, "threshold": "8s"},
            "JobHighRestarts": {"for": ALERT_FOR, "window": "1m", "threshold": 2},
            "JobwatchDown": {"for": "20s"},
            "JobwatchWatchStale": {"for": "20s", "threshold": "2m"},
        },
        "alertmanager": {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
    }


# Scenarios whose telling moments pass quickly at full speed; played at a quarter of it so
# Prometheus (1 s scrapes, 3 s `for:`) sees each state: the CronJob's failing runs before its
# recovery, and the retries before a success or a BackoffLimitExceeded.
SLOW_SCENARIOS = (
    "cronjob_three_failures_then_success",
    "complete_after_two_failures",
    "backoff_limit_exceeded_never",
)
SLOW_FACTOR = 0.25
SCRAPE_INTERVAL = "1s"


class Player(Protocol):
    all_settled: asyncio.Event


@dataclass
class Stack:
    """Handles to everything `run_stack` started; all of it stops when the context exits."""

    cluster_url: str
    kubeconfig: Path
    exporter: Exporter
    players: Sequence[Player]
    directory: Path
    sim: SimServer | None = None
    """The embedded cluster (`cluster="sim"`)."""
    control_plane: ControlPlane | None = None
    """The real control plane (`cluster="kube"`)."""
    prometheus: Prometheus | None = None
    alertmanager: Alertmanager | None = None
    receiver: WebhookReceiver | None = None
    rule_config: Config = field(default_factory=dict)
    scenarios: list[str] = field(default_factory=list)

    playing: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        return all(p.all_settled.is_set() for p in self.players)

    def check(self) -> None:
        """Raise what stopped a scenario player, if one crashed."""
        for task in self.playing:
            if task.done() and not task.cancelled() and task.exception() is not None:
                task.result()


@dataclass
class _Cluster:
    url: str
    kubeconfig: Path
    players: Sequence[Player]
    start: Callable[[], list[Coroutine[Any, Any, Any]]]
    """The scenario players' run() coroutines, started once the exporter is ready."""
    sim: SimServer | None = None
    control_plane: ControlPlane | None = None
    watch_idle_timeout: float = 10.0
    """The sim bookmarks every 5 s; the real API server about once a minute, so the exporter's
    default (120 s) applies there."""


def alerting_tools_missing() -> list[str]:
    """The binaries alerting needs that are not installed (`make tools` installs them)."""
    missing = []
    for tool in (PROMETHEUS, ALERTMANAGER):
        try:
            find_tool(tool)
        except ToolMissingError:
            missing.append(tool)
    return missing


def _split(names: Sequence[str]) -> tuple[list[str], list[str]]:
    slow = [n for n in names if n in SLOW_SCENARIOS]
    return [n for n in names if n not in SLOW_SCENARIOS], slow


@contextlib.asynccontextmanager
async def _alerting(
    stack: Stack, overrides: Mapping[str, Any] | None, progress: Callable[[str], None]
) -> AsyncIterator[None]:
    defaults = load_config()
    cfg = load_config(overrides=compressed_time(defaults) if overrides is None else overrides)
    stack.rule_config = cfg
    rule_files = write_rules(stack.directory / "rules", cfg=cfg, formats=("prometheus",))
    async with run_webhook_receiver() as receiver:
        stack.receiver = receiver
        receivers = {
            "webhook_url": receiver.url,
            "slack_api_url": receiver.slack_url,
            # Nothing listens on port 1: email delivery fails fast and harmlessly.
            "email_smarthost": "127.0.0.1:1",
        }
        am_cfg = {**cfg, "alertmanager": {**cfg["alertmanager"], **receivers}}
        am_file = write_alertmanager(stack.directory / "alertmanager", am_cfg)
        progress("starting Alertmanager")
        async with run_alertmanager(am_file) as am:
            stack.alertmanager = am
            progress("starting Prometheus with the generated rules")
            target = stack.exporter.url.removeprefix("http://")
            async with run_prometheus(
                [target], rule_files, alertmanager=am.url, interval=SCRAPE_INTERVAL
            ) as prom:
                stack.prometheus = prom
                await prom.wait_for_target_up()
                yield


@contextlib.asynccontextmanager
async def _sim_cluster(
    directory: Path, names: list[str], speed: float, progress: Callable[[str], None]
) -> AsyncIterator[_Cluster]:
    progress("starting the embedded cluster (jobwatch_testbed.sim)")
    fast, slow = _split(names)
    async with SimServer("127.0.0.1", 0, bookmark_period=5.0) as sim:
        players = [ScenarioPlayer(sim.store, speed=speed)]
        if slow:
            players.append(ScenarioPlayer(sim.store, speed=speed * SLOW_FACTOR))

        def start() -> list[Coroutine[Any, Any, Any]]:
            runs = [players[0].run(fast)] if fast else []
            if slow:
                runs.append(players[-1].run(slow))
            if not fast:
                players[0].all_settled.set()
            return runs

        kubeconfig = sim.write_kubeconfig(directory / "kubeconfig")
        yield _Cluster(sim.url, kubeconfig, players, start, sim=sim)


@contextlib.asynccontextmanager
async def _kube_cluster(
    names: list[str], progress: Callable[[str], None]
) -> AsyncIterator[_Cluster]:
    """The real control plane (`make kube`) with the scripted kubelet; real time throughout."""
    progress("starting the real control plane (etcd, kube-apiserver, kube-controller-manager)")
    control_plane = ControlPlane()
    try:
        await asyncio.to_thread(control_plane.start)
        async with KubeCluster(control_plane) as kube:
            player = KubePlayer(kube)
            yield _Cluster(
                control_plane.url,
                control_plane.kubeconfig,
                [player],
                lambda: [player.run(names)],
                control_plane=control_plane,
                watch_idle_timeout=settings().watch_idle_timeout,
            )
    finally:
        await asyncio.to_thread(control_plane.stop)


@contextlib.asynccontextmanager
async def run_stack(
    *,
    scenarios: Sequence[str] | None = None,
    speed: float = DEFAULT_SPEED,
    port: int = 0,
    alerting: bool = True,
    overrides: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _message: None,
    cluster: str = "sim",
) -> AsyncIterator[Stack]:
    """Start the cluster, the exporter and (with `alerting`) Prometheus and Alertmanager, then
    the scenarios; yield once the exporter is ready. Stops everything it started on exit. The
    rules use `overrides` over the defaults, or `compressed_time` when None.

    `cluster="sim"`: the embedded cluster, scenarios `speed` times faster than real time.
    `cluster="kube"`: the real control plane with the scripted kubelet, in real time (`speed`
    does not apply: the real controllers' backoffs and deadlines take their real seconds)."""
    names = [s.name for s in select(scenarios)]  # UnknownScenarioError before starting anything
    if cluster not in ("sim", "kube"):
        raise ValueError(f"unknown cluster {cluster!r} (sim or kube)")
    with tempfile.TemporaryDirectory(prefix="jobwatch-demo-") as tmp:
        directory = Path(tmp)
        backend = (
            _kube_cluster(names, progress)
            if cluster == "kube"
            else _sim_cluster(directory, names, speed, progress)
        )
        async with backend as running:
            progress("starting the exporter")
            exporter_settings = settings(
                kubeconfig=str(running.kubeconfig),
                listen_address=f"127.0.0.1:{port}",
                resync_period=1.0,
                watch_idle_timeout=running.watch_idle_timeout,
            )
            async with Exporter(exporter_settings) as exporter:
                await exporter.wait_ready()
                stack = Stack(
                    running.url,
                    running.kubeconfig,
                    exporter,
                    running.players,
                    directory,
                    sim=running.sim,
                    control_plane=running.control_plane,
                    scenarios=names,
                )
                async with contextlib.AsyncExitStack() as stop:
                    if alerting:
                        await stop.enter_async_context(_alerting(stack, overrides, progress))
                    where = "in real time" if cluster == "kube" else f"at speed {speed:g}"
                    progress(f"playing {len(names)} scenarios {where}")
                    stack.playing = [asyncio.create_task(run) for run in running.start()]
                    try:
                        yield stack
                    finally:
                        for task in stack.playing:
                            task.cancel()
                        await asyncio.gather(*stack.playing, return_exceptions=True)
