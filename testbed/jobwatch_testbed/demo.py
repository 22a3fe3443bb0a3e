"""`jobwatch demo`: the whole stack on this machine, and a live view of what the exporter sees.

On a terminal it is a full-screen view sized to the terminal (80x24 and up): the hint and the
links pinned at the top, one line per Job (in trouble first, cut to the width), and a bounded
pane of alert events. Piped, it prints one line per change (a Job's state, attempts, exit or
stall; an alert firing or resolving), so a log of the demo reads like a story. Either way a
short summary of what it showed, and what to try next, stays when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from jobwatch.analysis.report import JobReport
from jobwatch.status import index, trouble
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


class _ChangeLog:
    """Prints a line per Job or alert change (the non-terminal view)."""

    def __init__(self, out: Console, alerts: AlertLog | None, started: float) -> None:
        self.out = out
        self.jobs: dict[str, str] = {}
        self.alerts = alerts
        self.printed = 0
        self.started = started

    def update(self, stack: Stack) -> None:
        elapsed = time.monotonic() - self.started
        for uid, report in sorted(stack.exporter.state.reports().items()):
            line = summary_line(report)
            if self.jobs.get(uid) != line:
                self.jobs[uid] = line
                self.out.print(f"[{elapsed:5.1f}s] job    {line}", markup=False, highlight=False)
        if self.alerts is None:
            return
        self.alerts.update(stack.receiver, elapsed)
        for _, status, key, severity in self.alerts.events[self.printed :]:
            self.out.print(
                f"[{elapsed:5.1f}s] alert  {status:<8} {key} ({severity})",
                markup=False,
                highlight=False,
            )
        self.printed = len(self.alerts.events)


@dataclass(frozen=True)
class Links:
    """Where to look, each checked to answer on the versions the demo started."""

    status: str
    cluster: str
    prometheus: str | None = None
    alertmanager: str | None = None  # an amtool command: Debian's build has no web UI
    kubeconfig: str | None = None
    """The real control plane's admin kubeconfig (`--cluster kube`), for kubectl."""

    def lines(self) -> list[tuple[str, str]]:
        out = [("status page", self.status)]
        if self.prometheus:
            out.append(("prometheus", self.prometheus))
        if self.alertmanager:
            out.append(("alertmanager", self.alertmanager))
        out.append(("cluster", self.cluster))
        if self.kubeconfig:
            out.append(("kubeconfig", self.kubeconfig))
        return out


async def _first_answering(base: str, paths: Sequence[str]) -> str:
    """The first of `paths` that answers 200 (Prometheus 2.42 from Debian serves only the
    classic UI, at /classic/alerts; newer builds serve /alerts)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for path in paths:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(base + path, allow_redirects=False) as response:
                    if response.status == 200:
                        return base + path
    return base + paths[-1]


async def links(stack: Stack) -> Links:
    prometheus = alertmanager = None
    if stack.prometheus is not None:
        prometheus = await _first_answering(stack.prometheus.url, ["/alerts", "/classic/alerts"])
    if stack.alertmanager is not None:
        alertmanager = f"amtool --alertmanager.url={stack.alertmanager.url} alert"
    if stack.control_plane is not None:  # the real one: its kubeconfig has the certificates
        cluster = f"{stack.cluster_url}  (the real control plane, Kubernetes {KUBERNETES})"
    else:
        cluster = f"kubectl --server={stack.cluster_url} get jobs -A"
    return Links(
        status=f"{stack.exporter.url}/",
        cluster=cluster,
        prometheus=prometheus,
        alertmanager=alertmanager,
        kubeconfig=str(stack.kubeconfig) if stack.control_plane is not None else None,
    )


@dataclass
class AlertLog:
    """Alerts as Alertmanager delivered them: one event per firing or resolving."""

    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    latest: dict[str, str] = field(default_factory=dict)

    def update(self, receiver: WebhookReceiver | None, at: float) -> None:
        for key, (status, severity) in sorted(alert_states(receiver).items()):
            if self.latest.get(key) != status:
                self.latest[key] = status
                self.events.append((at, status, key, severity))

    @property
    def firing(self) -> int:
        return sum(1 for status in self.latest.values() if status == "firing")


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _label(report: JobReport) -> str:
    kind = trouble(report)
    return kind.replace("_", " ") if kind else report.state.value


def job_line(report: JobReport, now: float, width: int) -> Text:
    """One Job in one line of `width` columns: name, state, attempts, then what explains it."""
    name_w = max(20, min(int(width * 0.36), 48))
    state_w = 28 if width >= 120 else 13
    label = _label(report)
    if width >= 120 and report.reason and report.reason != label:
        label = f"{label} ({report.reason})"
    a = report.attempts
    attempts = "-" if a is None else f"{a.used}/{a.limit}"
    if width >= 100 and a is not None:
        attempts += f" {a.remaining} left"
    details = []
    e = report.last_exit
    if e is not None and e.code != 0:  # wide: the whole meaning; narrow: code and cause
        details.append(_exit(report) if width >= 120 else f"exit {e.code} {e.cause.value}")
    if report.stall is not None:
        details.append(f"stall {_stall(report, now)}")
    if report.hidden_failures:
        details.append(f"hidden {_hidden(report)}")
    if not details and report.reason and report.reason != label:
        details.append(report.reason)
    if not details and e is not None:
        details.append(_exit(report) if width >= 120 else f"exit {e.code}")
    style = STATE_STYLE.get(report.state.value, "")
    if trouble(report) in ("cannot_start", "last_attempt"):
        style = "bold red" if trouble(report) == "cannot_start" else "bold yellow"
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(_fit(f"{report.namespace}/{report.name}", name_w).ljust(name_w + 1))
    line.append(_fit(label, state_w).ljust(state_w + 1), style=style)
    line.append(attempts.ljust(11 if width >= 100 else 5))
    line.append(" · ".join(details) or "-", style="dim" if not trouble(report) else "")
    line.truncate(width, overflow="ellipsis")
    return line


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def screen(
    reports: Iterable[JobReport],
    *,
    alerts: AlertLog | None,
    found: Links,
    size: tuple[int, int],
    elapsed: float,
    now: float,
) -> Group:
    """The whole terminal view, at most `size` (columns, rows): pinned header, the Jobs (in
    trouble first, one line each) and a bounded pane of the latest alert events."""
    width, height = size
    ordered = index(reports).ordered
    in_trouble = sum(1 for _, kind in ordered if kind is not None)
    head = f"jobwatch demo · {_elapsed(elapsed)} · {len(ordered)} Jobs, {in_trouble} in trouble"
    if alerts is not None:
        head += f" · {alerts.firing} firing"
    lines: list[Text] = [Text(no_wrap=True, overflow="ellipsis")]
    lines[0].append(_fit(head, width - 17))
    lines[0].append(" · Ctrl-C to stop", style="bold")
    for name, where in found.lines():
        lines.append(Text(_fit(f"{name:<13}{where}", width), no_wrap=True, style="cyan"))
    alert_rows = 0
    if alerts is not None:
        alert_rows = min(max(len(alerts.events), 1), max(3, height // 4))
    room = height - 1 - len(lines) - 1 - (alert_rows + 1 if alerts is not None else 0)
    shown = ordered if len(ordered) <= room else ordered[: max(room - 1, 0)]
    lines.append(Text(_fit("Jobs, in trouble first", width), style="bold", no_wrap=True))
    lines.extend(job_line(r, now, width) for r, _ in shown)
    if len(shown) < len(ordered):
        more = f"… {len(ordered) - len(shown)} more (all of them on the status page)"
        lines.append(Text(_fit(more, width), style="dim", no_wrap=True))
    if alerts is not None:
        lines.append(Text(_fit("Alerts, as Alertmanager delivers them", width), style="bold"))
        latest = alerts.events[-alert_rows:][::-1]
        if not latest:
            lines.append(
                Text(
                    _fit("  none yet: alerts fire after their for: (seconds here)", width),
                    style="dim",
                )
            )
        for at, status, key, severity in latest:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{_elapsed(at):>6} ")
            line.append(f"{status:<9}", style="bold red" if status == "firing" else "green")
            line.append(f"{severity:<9}{key}")
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
    return Group(*lines[: height - 1])


def summary(
    reports: Iterable[JobReport], alerts: AlertLog | None, elapsed: float, scenarios: int
) -> list[str]:
    """What the demo showed and what to try next; stays on screen after it stops."""
    ordered = index(reports).ordered
    kinds = Counter(kind for _, kind in ordered if kind is not None)
    out = [
        f"jobwatch demo ran {_elapsed(elapsed)} with {scenarios} scenarios: the exporter saw "
        f"{len(ordered)} Jobs, {sum(kinds.values())} in trouble"
        + (
            " (" + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) + ")"
            if kinds
            else ""
        )
        + "."
    ]
    if alerts is not None:
        resolved = sum(1 for status in alerts.latest.values() if status == "resolved")
        out.append(
            f"Alertmanager delivered {len(alerts.latest)} alerts: {alerts.firing} firing at the "
            f"end, {resolved} resolved."
        )
    out += [
        "Try next:",
        "  kubectl get jobs,pods -A -o json | jobwatch diagnose    why your Jobs fail",
        "  jobwatch render rules --output DIR    the alert rules for your Prometheus",
        "  jobwatch serve    the exporter on your cluster, its status page on :9816",
    ]
    return out


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
        found = await links(stack)
        alerts = AlertLog() if stack.receiver is not None else None
        started = time.monotonic()
        deadline = started + args.duration if args.duration else None
        try:
            if console.is_terminal:
                await _live(
                    stack, console, deadline=deadline, found=found, alerts=alerts, started=started
                )
            else:
                for name, where in found.lines():
                    console.print(f"{name:<13}{where}", highlight=False, markup=False)
                await _log(stack, console, deadline, alerts, started)
        finally:  # also on Ctrl-C: the summary is what stays on screen
            reports = list(stack.exporter.state.reports().values())
            for line in summary(reports, alerts, time.monotonic() - started, len(stack.scenarios)):
                console.print(line, highlight=False, markup=False)


def _remaining(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


async def _live(
    stack: Stack,
    console: Console,
    *,
    deadline: float | None,
    found: Links,
    alerts: AlertLog | None,
    started: float,
) -> None:
    def view() -> Group:
        elapsed = time.monotonic() - started
        if alerts is not None:
            alerts.update(stack.receiver, elapsed)
        size = (console.size.width, console.size.height)
        return screen(
            stack.exporter.state.reports().values(),
            alerts=alerts,
            found=found,
            size=size,
            elapsed=elapsed,
            now=time.time(),
        )

    # The alternate screen: a full-screen view that leaves the terminal as it was on exit.
    with Live(view(), console=console, auto_refresh=False, screen=True) as live:
        while _remaining(deadline) > 0:
            await asyncio.sleep(0.5)
            stack.check()
            live.update(view(), refresh=True)


async def _log(
    stack: Stack,
    console: Console,
    deadline: float | None,
    alerts: AlertLog | None,
    started: float,
) -> None:
    changes = _ChangeLog(console, alerts, started)
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
