"""`jobwatch sim`: listing, argument errors, and a real run stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
import yaml

from jobwatch.cli import main
from jobwatch_testbed.sim.scenarios import SCENARIOS


def test_list_prints_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--list"]) == 0
    out = capsys.readouterr().out
    for scenario in SCENARIOS.values():
        assert f"{scenario.namespace}/{scenario.job}" in out
        assert scenario.name in out


def test_unknown_scenario_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--scenarios", "healthy,bogus", "--speed", "100"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_sim_serves_plays_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobwatch",
            "sim",
            "--scenarios",
            "healthy,imagepullbackoff_stall",
            "--speed",
            "200",
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while len([x for x in lines if "settled:" in x]) < 2 and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        assert any("settled: healthy" in x for x in lines), lines
        url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        assert any(url in x for x in lines)
        with urllib.request.urlopen(f"{url}/apis/batch/v1/namespaces/sim-healthy/jobs") as resp:
            jobs = orjson.loads(resp.read())
        assert [j["metadata"]["name"] for j in jobs["items"]] == ["hello"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
