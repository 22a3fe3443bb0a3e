"""`jobwatch demo --cluster kube`: the whole demo on the real control plane, as a user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tools import kube_binaries

JOBWATCH = [sys.executable, "-m", "jobwatch"]
KUBECONFIG = re.compile(r"^kubeconfig\s+(\S+)$")


@pytest.mark.timeout(150)
def test_demo_on_the_real_control_plane_prints_a_usable_kubeconfig() -> None:
    kubectl = str(kube_binaries().kubectl)
    demo = subprocess.Popen(
        [
            *JOBWATCH,
            "demo",
            "--cluster",
            "kube",
            "--no-alerting",
            "--duration",
            "90",  # the demo ends by itself even if a line this test waits for never comes
            "--scenarios",
            "healthy,oomkilled",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines: list[str] = []
    kubeconfig: str | None = None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and not (
            kubeconfig
            and any("sim-oomkilled/memory-hog  failed (BackoffLimitExceeded)" in ln for ln in lines)
            and any("sim-healthy/hello  succeeded" in ln for ln in lines)
        ):
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if match := KUBECONFIG.match(line.strip()):
                kubeconfig = match.group(1)
        out = "".join(lines)
        assert kubeconfig is not None, out
        assert re.search(r"^status page\s+http://127\.0\.0\.1:\d+/$", out, re.MULTILINE), out
        assert "sim-oomkilled/memory-hog  failed (BackoffLimitExceeded)" in out, out
        jobs = subprocess.run(
            [kubectl, f"--kubeconfig={kubeconfig}", "get", "jobs", "-A", "-o", "name"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        assert "job.batch/memory-hog" in jobs
        assert "job.batch/hello" in jobs
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=40)
    assert demo.returncode == 0, rest
    assert "jobwatch demo: stopped" in rest
    assert kubeconfig is not None
    assert not Path(kubeconfig).exists()  # its directory is gone


def test_demo_kube_without_binaries_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "JOBWATCH_KUBE_CACHE": str(tmp_path)}
    result = subprocess.run(
        [*JOBWATCH, "demo", "--cluster", "kube", "--no-alerting", "--duration", "1"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "run `make kube`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
