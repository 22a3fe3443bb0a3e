"""`jobwatch sim`: run the embedded API server and play scenarios until Ctrl-C / SIGTERM.

jobwatch sim                                  # all scenarios, speed 20, a free port
jobwatch sim --list                           # scenario names and one-line summaries
jobwatch sim --scenarios healthy,oomkilled --speed 5 --port 8001 --kubeconfig-out kc.yaml
kubectl --kubeconfig kc.yaml get jobs -A
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from jobwatch_testbed.interrupt import run_until_interrupted
from jobwatch_testbed.sim.timing import DEFAULT_SPEED


def register(subparsers: Any) -> None:
    """Add the `sim` sub-command to the `jobwatch` parser's subparsers."""
    parser = subparsers.add_parser(
        "sim",
        help="run the embedded Kubernetes API subset and play Job failure scenarios",
        description=(
            "Serve batch/v1 Jobs and CronJobs and v1 Pods over HTTP (enough for kubectl and "
            "kubernetes_asyncio) and play named Job scenarios on it, as the Job controller and "
            "the kubelet would. Runs until Ctrl-C or SIGTERM."
        ),
        epilog="example: jobwatch sim --scenarios healthy,oomkilled --kubeconfig-out kc.yaml",
    )
    parser.add_argument(
        "--scenarios",
        default="all",
        metavar="NAMES",
        help="comma-separated scenario names, or 'all' (default); see --list",
    )
    parser.add_argument("--list", action="store_true", help="print the scenarios and exit")
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"time compression of waits (backoffs, runtimes); default {DEFAULT_SPEED:g}",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="listen port; 0 (default) picks a free one"
    )
    parser.add_argument(
        "--kubeconfig-out", type=Path, metavar="PATH", help="write a kubeconfig for the sim here"
    )
    parser.add_argument(
        "--bookmark-period",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between watch BOOKMARK events (default 60)",
    )
    parser.set_defaults(func=main)


def list_scenarios(out: TextIO) -> None:
    from jobwatch_testbed.sim.scenarios import SCENARIOS

    width = max(len(n) for n in SCENARIOS)
    for scenario in SCENARIOS.values():
        out.write(f"{scenario.name:<{width}}  {scenario.namespace}/{scenario.job}: ")
        out.write(f"{scenario.summary}\n")


async def serve(args: argparse.Namespace, out: TextIO) -> None:
    from jobwatch_testbed.sim.player import ScenarioPlayer, select
    from jobwatch_testbed.sim.server import SimServer

    names = None if args.scenarios in ("", "all") else args.scenarios.split(",")
    scenarios = select(names)
    async with SimServer(args.host, args.port, bookmark_period=args.bookmark_period) as sim:
        out.write(f"jobwatch sim: API server at {sim.url}\n")
        if args.kubeconfig_out:
            sim.write_kubeconfig(args.kubeconfig_out)
            out.write(f"jobwatch sim: kubeconfig written to {args.kubeconfig_out}\n")
        out.write(f"jobwatch sim: playing {len(scenarios)} scenario(s) at speed {args.speed:g}\n")
        out.flush()
        player = ScenarioPlayer(sim.store, speed=args.speed)
        playing = asyncio.create_task(player.run([s.name for s in scenarios]))
        reported: set[str] = set()
        while not playing.done():
            for scenario in player.settled(scenarios):
                if scenario.name not in reported:
                    reported.add(scenario.name)
                    out.write(f"  settled: {scenario.name} ({scenario.namespace})\n")
                    out.flush()
            await asyncio.wait({playing}, timeout=0.2)
        playing.result()


def main(args: argparse.Namespace) -> int:
    from jobwatch_testbed.sim.player import UnknownScenarioError

    out = sys.stdout
    if args.list:
        list_scenarios(out)
        return 0
    if args.speed <= 0:
        sys.stderr.write("jobwatch sim: --speed must be positive\n")
        return 2

    try:
        run_until_interrupted(serve(args, out))
    except UnknownScenarioError as exc:
        sys.stderr.write(f"jobwatch sim: {exc.args[0]} (see --list)\n")
        return 2
    out.write("jobwatch sim: stopped\n")
    return 0
