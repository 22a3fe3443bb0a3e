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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobwatch.render.alertmanager import write_alertmanager
from jobwatch.render.config import Config, load_config
from jobwatch.render.rules import write_rules
from jobwatch.serve import Exporter
from jobwatch.settings import settings
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


@dataclass
class Stack:
    """Handles to everything `run_stack` started; all of it stops when the context exits."""

    sim: SimServer
    exporter: Exporter
    players: list[ScenarioPlayer]
    directory: Path
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
async def run_stack(
    *,
    scenarios: Sequence[str] | None = None,
    speed: float = DEFAULT_SPEED,
    port: int = 0,
    alerting: bool = True,
    overrides: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> AsyncIterator[Stack]:
    """Start the sim, the exporter and (with `alerting`) Prometheus and Alertmanager, then the
    scenarios; yield once the exporter is ready. Stops everything it started on exit. The rules
    use `overrides` over the defaults, or `compressed_time` when None."""
    names = [s.name for s in select(scenarios)]  # UnknownScenarioError before starting anything
    fast, slow = _split(names)
    with tempfile.TemporaryDirectory(prefix="jobwatch-demo-") as tmp:
        directory = Path(tmp)
        progress("starting the embedded cluster (jobwatch_testbed.sim)")
        async with SimServer("127.0.0.1", 0, bookmark_period=5.0) as sim:
            kubeconfig = sim.write_kubeconfig(directory / "kubeconfig")
            progress("starting the exporter")
            exporter_settings = settings(
                kubeconfig=str(kubeconfig),
                listen_address=f"127.0.0.1:{port}",
                resync_period=1.0,
                watch_idle_timeout=10.0,
            )
            async with Exporter(exporter_settings) as exporter:
                await exporter.wait_ready()
                players = [ScenarioPlayer(sim.store, speed=speed)]
                if slow:
                    players.append(ScenarioPlayer(sim.store, speed=speed * SLOW_FACTOR))
                stack = Stack(sim, exporter, players, directory, scenarios=names)
                async with contextlib.AsyncExitStack() as stop:
                    if alerting:
                        await stop.enter_async_context(_alerting(stack, overrides, progress))
                    progress(f"playing {len(names)} scenarios at speed {speed:g}")
                    tasks = [players[0].run(fast)] if fast else []
                    if slow:
                        tasks.append(players[-1].run(slow))
                    stack.playing = [asyncio.create_task(t) for t in tasks]
                    if not fast:
                        players[0].all_settled.set()
                    try:
                        yield stack
                    finally:
                        for task in stack.playing:
                            task.cancel()
                        await asyncio.gather(*stack.playing, return_exceptions=True)
