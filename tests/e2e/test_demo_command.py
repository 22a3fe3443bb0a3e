"""`jobwatch demo` as a user runs it: a real process, piped output (the change-log view), stopped
by --duration or by Ctrl-C, leaving nothing behind."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from tests.tools import tool

JOBWATCH = [sys.executable, "-m", "jobwatch"]
STATUS_URL = re.compile(r"^status page\s+(http://127\.0\.0\.1:\d+/)$", re.MULTILINE)


@pytest.mark.timeout(120)
def test_demo_shows_jobs_and_alerts_then_stops_after_duration() -> None:
    tool("prometheus")
    tool("prometheus-alertmanager")
    result = subprocess.run(
        [*JOBWATCH, "demo", "--duration", "25", "--scenarios", "healthy,exit127_command_not_found"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert STATUS_URL.search(out), out
    # Debian's Prometheus 2.42 serves only the classic UI; the demo links what answers.
    assert re.search(r"^prometheus\s+http://127\.0\.0\.1:\d+/classic/alerts$", out, re.MULTILINE)
    assert "Try next:" in out
    assert re.search(r"job +sim-exit127/missing-command +failed \(BackoffLimitExceeded\)", out)
    assert "exit 127: the shell could not find the command" in out
    assert re.search(r"alert +firing +JobCannotStart sim-exit127/missing-command", out), out
    assert "sim-healthy/hello" in out
    assert not re.search(r"alert .*sim-healthy", out), "the healthy Job must stay quiet"
    assert out.rstrip().endswith("jobwatch demo: stopped; everything it started is gone")


@pytest.mark.timeout(60)
def test_demo_stops_cleanly_on_ctrl_c() -> None:
    demo = subprocess.Popen(
        [*JOBWATCH, "demo", "--no-alerting", "--scenarios", "healthy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        lines.append(line)
        if "sim-healthy/hello  succeeded" in line:
            break
    else:
        demo.kill()
        pytest.fail("".join(lines))
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, rest
    assert "jobwatch demo: stopped" in rest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "--speed must be positive"),
        (["--scenarios", "nope"], "unknown scenario(s) nope"),
    ],
)
def test_demo_bad_flags_are_one_line_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*JOBWATCH, "demo", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
