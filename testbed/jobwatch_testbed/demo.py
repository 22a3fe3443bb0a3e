"""`jobwatch demo`: the whole stack on this machine, and a live view of what the exporter sees.

On a terminal the view redraws in place (rich Live); piped, it prints one line per change (a
Job's state, attempts, exit or stall; an alert firing or resolving) and a final table, so a log
of the demo reads like a story.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jobwatch.analysis.report import JobReport
from jobwatch_testbed.interrupt import run_until_interrupted
from jobwatch_testbed.kube.controlplane import ControlPlaneError
from jobwatch_testbed.kube.versions import KUBERNETES
from jobwatch_testbed.monitoring import WebhookReceiver
from jobwatch_testbed.sim import DEFAULT_SPEED, SCENARIOS
from jobwatch_testbed.stack import Stack, alerting_tools_missing, run_stack

EXIT_USAGE = 2
PIPED_WIDTH = 220
STATE_STYLE = {
    "failed": "bold red",
    "stalled": "bold yellow",
    "running": "cyan",
    "succeeded": "green",
    "suspended": "dim",
    "external": "dim",
}


def _attempts(report: JobReport) -> str:
    a = report.attempts
    return "-" if a is None else f"{a.used}/{a.limit} ({a.remaining} left)"


def _exit(report: JobReport) -> str:
    e = report.last_exit
    if e is None:
        return "-"
    return f"{e.meaning} [{e.container}]"  # the meaning starts with the exit code


def _hidden(report: JobReport) -> str:
    return ", ".join(f"{h.kind.value}={h.count}" for h in report.hidden_failures) or "-"


def _stall(report: JobReport, now: float) -> str:
    s = report.stall
    if s is None:
        return "-"
    age = f" for {now - s.since:.0f}s" if s.since is not None else ""
    return f"{s.reason.value}{age}"


def _state(report: JobReport) -> str:
    return report.state.value + (f" ({report.reason})" if report.reason else "")


def summary_line(report: JobReport) -> str:
    """What changed about a Job, in one line (the piped view prints it when it changes)."""
    parts = [f"{report.namespace}/{report.name}", _state(report), f"attempts {_attempts(report)}"]
    if report.last_exit is not None:
        parts.append(_exit(report))
    if report.stall is not None:
        parts.append(f"stall {report.stall.reason.value}")
    if report.hidden_failures:
        parts.append(f"hidden {_hidden(report)}")
    return "  ".join(parts)


def jobs_table(reports: Iterable[JobReport], now: float) -> Table:
    table = Table(title="Jobs, as jobwatch sees them", expand=True, title_justify="left")
    for column in ("Job", "State", "Attempts", "Last exit", "Hidden failures", "Stall"):
        table.add_column(column, overflow="fold")
    for r in sorted(reports, key=lambda r: (r.namespace, r.name)):
        name = f"{r.namespace}/{r.name}" + (f" [dim](cron {r.cronjob})[/]" if r.cronjob else "")
        table.add_row(
            name,
            Text(_state(r), style=STATE_STYLE.get(r.state.value, "")),
            _attempts(r),
            _exit(r),
            _hidden(r),
            _stall(r, now),
        )
    return table


def _alert_key(alert: dict[str, Any]) -> str:
    labels = alert.get("labels", {})
    subject = labels.get("job_name") or labels.get("cronjob") or ""
    where = f"{labels.get('namespace', '')}/{subject}".strip("/")
    return f"{labels.get('alertname', '?')} {where}".strip()


def alert_states(receiver: WebhookReceiver | None) -> dict[str, tuple[str, str]]:
    """Latest status and severity per alert, from the notifications Alertmanager delivered."""
    latest: dict[str, tuple[str, str]] = {}
    if receiver is not None:
        for alert in receiver.alerts():
            labels = alert.get("labels", {})
            latest[_alert_key(alert)] = (alert.get("status", "?"), labels.get("severity", ""))
    return latest


def alerts_table(states: dict[str, tuple[str, str]]) -> Table:
    table = Table(title="Alerts delivered by Alertmanager", expand=True, title_justify="left")
    for column in ("Alert", "Severity", "Status"):
        table.add_column(column)
    for key, (status, severity) in sorted(states.items()):
        style = "bold red" if status == "firing" else "green"
        table.add_row(key, severity, Text(status, style=style))
    return table


class _ChangeLog:
    """Prints a line per Job or alert change (the non-terminal view)."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.jobs: dict[str, str] = {}
        self.alerts: dict[str, str] = {}
        self.started = time.monotonic()

    def update(self, stack: Stack) -> None:
        started = time.monotonic() - self.started
        for uid, report in sorted(stack.exporter.state.reports().items()):
            line = summary_line(report)
            if self.jobs.get(uid) != line:
                self.jobs[uid] = line
                self.out.print(f"[{started:5.1f}s] job    {line}", markup=False, highlight=False)
        for key, (status, severity) in sorted(alert_states(stack.receiver).items()):
            if self.alerts.get(key) != status:
                self.alerts[key] = status
                self.out.print(
                    f"[{started:5.1f}s] alert  {status:<8} {key} ({severity})",
                    markup=False,
                    highlight=False,
                )


def _urls(stack: Stack) -> list[str]:
    lines = [
        f"exporter     {stack.exporter.url}/metrics",
        f"             {stack.exporter.url}/readyz  /livez  /healthz",
    ]
    if stack.control_plane is not None:
        lines.append(
            f"cluster      {stack.cluster_url}  (the real control plane, Kubernetes {KUBERNETES})"
        )
        lines.append(f"kubeconfig   {stack.kubeconfig}")
        lines.append(f"             (kubectl --kubeconfig {stack.kubeconfig} get jobs,pods -A)")
    else:
        url = stack.cluster_url
        lines.append(f"cluster      {url}  (kubectl --server={url} get jobs -A)")
    if stack.prometheus is not None:
        lines.append(f"prometheus   {stack.prometheus.url}/alerts")
    if stack.alertmanager is not None:
        lines.append(f"alertmanager {stack.alertmanager.url}")
    return lines


async def run_demo(args: argparse.Namespace, console: Console) -> None:
    alerting = not args.no_alerting
    if alerting and (missing := alerting_tools_missing()):
        console.print(
            f"note: {', '.join(missing)} not installed (`make tools`); running without alerts",
            highlight=False,
        )
        alerting = False
    names = args.scenarios.split(",") if args.scenarios else None

    def progress(message: str) -> None:
        console.print(f"jobwatch demo: {message}", highlight=False)

    async with run_stack(
        scenarios=names,
        speed=args.speed,
        port=args.port,
        alerting=alerting,
        progress=progress,
        cluster=args.cluster,
    ) as stack:
        for line in _urls(stack):
            console.print(line, highlight=False, markup=False)
        deadline = time.monotonic() + args.duration if args.duration else None
        if console.is_terminal:
            await _live(stack, console, deadline)
        else:
            await _log(stack, console, deadline)
        now = time.time()
        console.print(jobs_table(stack.exporter.state.reports().values(), now))
        if stack.receiver is not None:
            console.print(alerts_table(alert_states(stack.receiver)))


def _remaining(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


async def _live(stack: Stack, console: Console, deadline: float | None) -> None:
    def view() -> Group:
        now = time.time()
        parts: list[Any] = [jobs_table(stack.exporter.state.reports().values(), now)]
        if stack.receiver is not None:
            parts.append(alerts_table(alert_states(stack.receiver)))
        parts.append(Text("Ctrl-C to stop", style="dim"))
        return Group(*parts)

    with Live(view(), console=console, refresh_per_second=4, transient=True) as live:
        while _remaining(deadline) > 0:
            await asyncio.sleep(0.5)
            stack.check()
            live.update(view())


async def _log(stack: Stack, console: Console, deadline: float | None) -> None:
    changes = _ChangeLog(console)
    while _remaining(deadline) > 0:
        stack.check()
        changes.update(stack)
        await asyncio.sleep(0.5)
    changes.update(stack)


def _demo(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        print("jobwatch demo: error: --speed must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.duration < 0:
        print("jobwatch demo: error: --duration must be 0 (until Ctrl-C) or more", file=sys.stderr)
        return EXIT_USAGE
    unknown = [n for n in (args.scenarios or "").split(",") if n and n not in SCENARIOS]
    if unknown:
        print(
            f"jobwatch demo: error: unknown scenario(s) {', '.join(unknown)} "
            "(see `jobwatch sim --list`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    console = Console(highlight=False)
    if not console.is_terminal:  # a log file: wide lines beat wrapped tables
        console = Console(highlight=False, width=PIPED_WIDTH)

    try:
        run_until_interrupted(run_demo(args, console))
    except (OSError, ControlPlaneError) as error:
        print(f"jobwatch demo: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    console.print("jobwatch demo: stopped; everything it started is gone", highlight=False)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the embedded cluster, the exporter, Prometheus and Alertmanager, and watch",
        description=(
            "Start the sim with its scenarios (failing, stalled, hidden-failure and healthy "
            "Jobs, and a failing CronJob), the exporter against it, and, when installed, "
            "Prometheus with the generated rules and Alertmanager with the generated routing. "
            "Shows what the exporter sees and the alerts as they fire and resolve. Time is "
            "compressed: alert `for:` values are seconds, not minutes."
        ),
        epilog="example: jobwatch demo --duration 90",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop after this long (default 0: until Ctrl-C)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"how much faster than real time the scenarios run (default {DEFAULT_SPEED:g})",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="exporter port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--scenarios",
        default="",
        metavar="NAME[,NAME...]",
        help="only these scenarios (default: all; list them with `jobwatch sim --list`)",
    )
    parser.add_argument(
        "--cluster",
        choices=("sim", "kube"),
        default="sim",
        help=(
            "sim (default): the embedded cluster, starts in a second, time compressed by "
            "--speed; kube: the real etcd, kube-apiserver and kube-controller-manager built by "
            "`make kube`, with a scripted kubelet, in real time (--speed does not apply)"
        ),
    )
    parser.add_argument(
        "--no-alerting",
        action="store_true",
        help="skip Prometheus and Alertmanager even when installed",
    )
    parser.set_defaults(func=_demo)
