"""The `jobwatch` command: one sub-command per job.

Each sub-command lives in its own module and adds itself with `register(subparsers)`, setting
`func(args) -> exit code`. Errors are one line on stderr and exit code 2.

The exporter's own commands are registered here. Commands of other distributions (the testbed's
`demo` and `sim`) come from the `jobwatch.commands` entry-point group and are loaded only when one
of them, or the command list, is asked for: `jobwatch serve` never imports the testbed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from jobwatch import __version__
from jobwatch.model import parse_time

EXIT_USAGE = 2
COMMANDS_GROUP = "jobwatch.commands"
if TYPE_CHECKING:
    from jobwatch.diagnose import Dump

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
    Register: TypeAlias = Callable[[Subparsers], None]
# Commands the testbed adds; named here only to say how to get them when it is not installed.
TESTBED_COMMANDS = ("demo", "sim")


def fail(message: str) -> int:
    print(f"jobwatch: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _diagnose(args: argparse.Namespace) -> int:
    from jobwatch.diagnose import (
        InputError,
        diagnose,
        load_dump,
        read_bounded,
        render_json,
        render_table,
    )

    now = time.time()
    if args.now is not None:
        parsed = parse_time(args.now)
        if parsed is None:
            return fail(f"--now {args.now!r} is not an RFC 3339 time such as 2026-05-04T10:00:00Z")
        now = parsed
    try:
        if args.file == "-":
            if sys.stdin.isatty():
                return fail("no input: pipe `kubectl get jobs,pods -A -o json` in, or pass -f FILE")
            text = read_bounded(sys.stdin.buffer)
        else:
            with open(args.file, "rb") as handle:
                text = read_bounded(handle)
        dump = load_dump(text)
    except OSError as error:
        return fail(f"cannot read {args.file}: {error.strerror}")
    except InputError as error:
        return fail(str(error))
    reports = diagnose(dump, now, namespace=args.namespace, job=args.job, cronjob=args.cronjob)
    if not reports and (hint := _selection_hint(dump, args)) is not None:
        return fail(hint)
    if args.output == "json":
        sys.stdout.write(render_json(dump, reports, now))
    else:
        sys.stdout.write(render_table(reports, now))
        if dump.jobs and not dump.pods:
            print(
                "note: the input has no Pods; exit codes and stalls need them "
                "(kubectl get jobs,pods -o json)",
                file=sys.stderr,
            )
    return 0


def _selection_hint(dump: Dump, args: argparse.Namespace) -> str | None:
    """Why --job/--cronjob matched nothing, when the input says more than "no Jobs"."""
    from jobwatch.diagnose import printable

    in_ns = [j for j in dump.jobs if args.namespace is None or j.namespace == args.namespace]
    if args.job is not None:
        runs = sum(1 for j in in_ns if j.cronjob == args.job)
        if runs:
            return (
                f"no Job named {printable(args.job)!r}, but a CronJob of that name owns {runs} "
                f"Job(s): use --cronjob {printable(args.job)}"
            )
        return None
    if args.cronjob is not None:
        owners = sorted({j.cronjob for j in in_ns if j.cronjob})
        known = ", ".join(printable(o) for o in owners[:10]) or "none"
        return (
            f"no Jobs of CronJob {printable(args.cronjob)!r} in the input (CronJobs seen: {known})"
        )
    return None


def _register_diagnose(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="explain a `kubectl get jobs,pods -o json` dump offline",
        description=(
            "Explain why Jobs failed, stall or hide failures, from a dump taken with "
            "`kubectl get jobs,pods -A -o json`. Works offline; no cluster access."
        ),
        epilog="example: kubectl get jobs,pods -n batch -o json | jobwatch diagnose -f -",
    )
    parser.add_argument(
        "-f",
        "--file",
        default="-",
        metavar="FILE",
        help="the dump to read: a v1 List, JobList, PodList or Job; '-' for stdin (default)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="table for people (default), json for scripts (a stable contract)",
    )
    parser.add_argument(
        "--now",
        metavar="RFC3339",
        help="judge the dump as of this time, e.g. when it was taken (default: now)",
    )
    parser.add_argument("-n", "--namespace", help="only Jobs in this namespace")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--job", metavar="NAME", help="only the Job with this name")
    selection.add_argument(
        "--cronjob", metavar="NAME", help="only the Jobs (runs) of the CronJob with this name"
    )
    parser.set_defaults(func=_diagnose)


def _first_word(argv: Sequence[str]) -> str | None:
    """The sub-command named in argv (its first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def _module_register(module: str) -> Register:
    def register(subparsers: Subparsers) -> None:
        importlib.import_module(module).register(subparsers)

    return register


# The exporter's commands, each imported only when it runs or the command list is shown: `serve`
# does not pay for jinja2 (render) and `render` does not pay for aiohttp (serve).
BUILTIN: dict[str, Register] = {
    "serve": _module_register("jobwatch.serve"),
    "diagnose": _register_diagnose,
    "render": _module_register("jobwatch.render.command"),
}


def _register_plugins(subparsers: Subparsers) -> None:
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as error:
            print(f"jobwatch: warning: command {entry.name} not loaded: {error}", file=sys.stderr)
            continue
        register(subparsers)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for argv: only the named built-in command, else every command and plugin."""
    parser = argparse.ArgumentParser(
        prog="jobwatch",
        description="See why Kubernetes Jobs fail: exporter, offline diagnosis, rule pack.",
    )
    parser.add_argument("--version", action="version", version=f"jobwatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    word = None if argv is None else _first_word(argv)
    if word in BUILTIN:
        BUILTIN[word](subparsers)
        return parser
    for register in BUILTIN.values():
        register(subparsers)
    _register_plugins(subparsers)
    return parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    command = _first_word(words)
    if command in TESTBED_COMMANDS and command not in _commands(parser):
        return fail(
            f"`jobwatch {command}` is part of the testbed, which this install does not have; "
            "run it from a clone of the repository: make demo"
        )
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help()
        return 0
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
