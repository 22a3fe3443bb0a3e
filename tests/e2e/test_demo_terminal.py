"""`jobwatch demo` as a person sees it: a real terminal (tmux) at 80x24 and at 200x50, captured
while it runs and after it stops. The hint and the links stay visible, alerts show up, no line
wraps, and a summary is left on screen."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import pytest

from tests.tools import tool

SCENARIOS = "healthy,exit127_command_not_found,imagepullbackoff_stall"
ALERT = re.compile(r"\d+s firing +critical +JobCannotStart sim-exit127/missing-command")


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout


def _capture(session: str) -> list[str]:
    """The visible pane; -J joins wrapped lines, so a wrapped line shows as one too long."""
    text = _tmux("capture-pane", "-p", "-J", "-t", session).rstrip("\n")
    return [line.rstrip() for line in text.split("\n")]


@pytest.mark.timeout(150)
@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_demo_fits_the_terminal_and_leaves_a_summary(width: int, height: int) -> None:
    for name in ("tmux", "prometheus", "prometheus-alertmanager"):
        tool(name)
    session = f"jobwatch-demo-{uuid.uuid4().hex[:8]}"
    command = f"{sys.executable} -m jobwatch demo --duration 40 --scenarios {SCENARIOS}; sleep 60"
    _tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command)
    try:
        screens: list[list[str]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1)
            screen = _capture(session)
            screens.append(screen)
            if any(ALERT.search(line) for line in screen):
                break
        else:
            pytest.fail("no alert line within 60 s:\n" + "\n".join(screens[-1] if screens else []))
        running = [s for s in screens if s and "Ctrl-C to stop" in s[0]]
        assert running, screens[-1]
        for screen in running:
            assert len(screen) <= height
            assert all(len(line) <= width for line in screen), "\n".join(screen)
            assert "Ctrl-C to stop" in screen[0]
            assert re.match(r"^status page +http://127\.0\.0\.1:\d+/$", screen[1]), screen
            assert re.match(r"^prometheus +http://127\.0\.0\.1:\d+/classic/alerts$", screen[2])
            assert re.match(r"^alertmanager +amtool --alertmanager\.url=http://", screen[3])
        last = running[-1]
        assert any(line.startswith("sim-exit127/missing-command") for line in last), last
        assert any(line.startswith("sim-healthy/hello") for line in last), last
        assert any(ALERT.search(line) for line in last), last

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1)
            after = _capture(session)
            if any("jobwatch demo: stopped" in line for line in after):
                break
        else:
            pytest.fail("the demo did not stop:\n" + "\n".join(after))
        text = "\n".join(after)
        assert all(len(line) <= width for line in after), text
        assert re.search(r"jobwatch demo ran \d+s with 3 scenarios: the exporter saw 3 Jobs", text)
        assert "Try next:" in text
        assert "jobwatch diagnose" in text
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, timeout=10)
