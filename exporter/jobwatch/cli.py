"""The `jobwatch` command: one sub-command per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobwatch import __version__
from jobwatch.sim import command as sim_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobwatch",
        description="See why Kubernetes Jobs fail: exporter, offline diagnosis, rule pack.",
    )
    parser.add_argument("--version", action="version", version=f"jobwatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    sim_command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = getattr(args, "handler", None)
    return int(handler(args)) if handler is not None else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
