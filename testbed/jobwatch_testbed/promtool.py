"""A thin wrapper around the real `promtool`: check rules, test rules, check metrics.

Each call returns promtool's output on success. A failure raises `PromtoolFailed` whose message is
one line (the command and its first problem) and whose `problems` holds every reported problem;
a missing binary raises `PromtoolMissing`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

DEFAULT_TIMEOUT = 120.0

__all__ = [
    "PromtoolError",
    "PromtoolFailed",
    "PromtoolMissing",
    "check_metrics",
    "check_rules",
    "find_promtool",
    "run_rule_tests",
]


class PromtoolError(Exception):
    """promtool could not be run, or reported a problem."""


class PromtoolMissing(PromtoolError):
    """No promtool binary on PATH (install the Debian package `prometheus`)."""


class PromtoolFailed(PromtoolError):
    """promtool ran and rejected its input."""

    def __init__(
        self, command: Sequence[str], returncode: int, problems: list[str], output: str = ""
    ) -> None:
        self.command = list(command)
        self.output = output
        self.returncode = returncode
        self.problems = problems
        first = problems[0] if problems else f"exit status {returncode}"
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"promtool {' '.join(command[1:3])} failed: {first}{more}")


def find_promtool(binary: str = "promtool") -> str:
    path = shutil.which(binary)
    if path is None:
        raise PromtoolMissing(
            f"{binary} not found on PATH; install it (apt-get install prometheus or make tools)"
        )
    return path


def _problems(output: str) -> list[str]:
    """The lines that describe what is wrong, without promtool's headers and blank lines."""
    skip = ("Checking ", "Unit Testing:", "FAILED:", "SUCCESS")
    lines = [line.rstrip() for line in output.splitlines()]
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith(skip)]


def _run(args: Sequence[str], *, stdin: str | None = None, timeout: float, binary: str) -> str:
    command = [find_promtool(binary), *args]
    try:
        proc = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PromtoolError(f"promtool {' '.join(args[:2])} timed out after {timeout:g}s") from exc
    except OSError as exc:
        raise PromtoolMissing(f"cannot run {command[0]}: {exc.strerror}") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise PromtoolFailed(command, proc.returncode, _problems(output), output)
    return output


def check_rules(
    *files: Path | str, timeout: float = DEFAULT_TIMEOUT, binary: str = "promtool"
) -> str:
    """`promtool check rules FILE...`."""
    return _run(["check", "rules", *map(str, files)], timeout=timeout, binary=binary)


def run_rule_tests(
    *files: Path | str, timeout: float = DEFAULT_TIMEOUT, binary: str = "promtool"
) -> str:
    """`promtool test rules FILE...` (unit tests; rule_files are relative to each test file)."""
    return _run(["test", "rules", *map(str, files)], timeout=timeout, binary=binary)


def check_metrics(
    exposition: str, timeout: float = DEFAULT_TIMEOUT, binary: str = "promtool"
) -> str:
    """`promtool check metrics` on an exposition text (lint: names, help, types)."""
    return _run(["check", "metrics"], stdin=exposition, timeout=timeout, binary=binary)
