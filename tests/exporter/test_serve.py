"""The exporter as users run it: probes against the sim over HTTP, and `jobwatch serve` as a real
process (flags, JSON logs, graceful SIGTERM, one-line errors)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from jobwatch.model import Resource
from jobwatch.serve import Exporter, Readiness
from jobwatch.settings import Settings, settings
from jobwatch.state import ExporterState
from jobwatch_testbed.monitoring import free_port
from jobwatch_testbed.sim import CRONJOBS, JOBS, ScenarioPlayer, SimServer
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job

JOBWATCH = [sys.executable, "-m", "jobwatch"]


def _settings(sim: SimServer, tmp_path: Path, **overrides: Any) -> Settings:
    """The exporter pointed at this sim, listening on a free loopback port."""
    kubeconfig = sim.write_kubeconfig(tmp_path / "kc")
    return settings(kubeconfig=str(kubeconfig), listen_address="127.0.0.1:0", **overrides)


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


def _ready(health: Readiness) -> bool:
    """Read afresh each time (mypy would narrow a property across the calls in between)."""
    return health.ready


def test_ready_waits_for_the_first_render_of_the_listed_jobs() -> None:
    """The end of the LISTs analyses nothing on the spot (50k Jobs held the loop for seconds):
    /readyz says ready once the renderer published a body that shows them."""
    state = ExporterState()
    for resource in ("jobs", "pods"):
        state.telemetry.expect(resource, None)
    jobs = [new_job("ns", f"j{i}", [container("c", ["true"])]) for i in range(3)]
    for i, listed in enumerate(jobs):
        listed["metadata"]["uid"] = f"uid-{i}"  # what the API server adds
    state.replace("jobs", None, jobs)
    state.replace("pods", None, [pod_for_job(j) for j in jobs])
    analysed = state.analysed
    state.telemetry.synced("jobs", None)
    state.telemetry.synced("pods", None)
    health = Readiness(state)
    assert state.telemetry.ready
    assert not _ready(health)
    assert health.pending() == ["the first render of the listed Jobs"]
    assert state.analysed == analysed
    asyncio.run(state.render_pass())
    assert _ready(health)
    assert health.pending() == []
    served = state.latest(False).joined()
    assert all(f'job_name="j{i}"'.encode() in served for i in range(3))


@pytest.mark.timeout(60)
async def test_readyz_is_503_until_the_first_list_then_200(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        sim.faults.delay(1.0)  # every API response waits: the first LIST takes a while
        config = _settings(sim, tmp_path)
        async with Exporter(config) as exporter:
            assert await _status(f"{exporter.url}/readyz") == 503
            assert await _status(f"{exporter.url}/healthz") == 200
            await exporter.wait_ready()
            assert await _status(f"{exporter.url}/readyz") == 200


@pytest.mark.timeout(60)
async def test_livez_fails_under_a_hung_watch_and_recovers(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0, bookmark_period=0.2) as sim:
        config = _settings(
            sim,
            tmp_path,
            livez_max_silence=1.5,
            watch_idle_timeout=30.0,  # longer than the test: only the probe can notice
        )
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            livez = f"{exporter.url}/livez"
            await _eventually(lambda: _is(livez, 200))
            sim.faults.blackhole()  # watches stay open and send nothing, not even bookmarks
            await _eventually(lambda: _is(livez, 503))
            sim.faults.clear()
            await _eventually(lambda: _is(livez, 200))


async def _is(url: str, status: int) -> bool:
    return await _status(url) == status


@pytest.mark.timeout(60)
async def test_deleted_jobs_leave_no_series(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        await ScenarioPlayer(sim.store, speed=500).run(["healthy"], until_settled=True)
        config = _settings(sim, tmp_path)
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            metrics = f"{exporter.url}/metrics"
            assert 'job_name="hello"' in await _text(metrics)
            sim.store.delete(JOBS, "sim-healthy", "hello")
            await _eventually(lambda: _lacks(metrics, 'job_name="hello"'))


def _mistyped(namespace: str, name: str) -> dict[str, Any]:
    """A Job whose backoffLimit is a string: msgspec rejects it, the tolerant path reads it."""
    job = new_job(namespace, name, [container("c", ["true"])])
    job["spec"]["backoffLimit"] = "3"
    return job


@pytest.mark.timeout(60)
async def test_objects_the_typed_decoder_rejects_are_read_and_counted(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        sim.store.create(JOBS, _mistyped("ns", "listed"))
        config = _settings(sim, tmp_path)
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            metrics = f"{exporter.url}/metrics"
            body = await _text(metrics)
            assert 'jobwatch_exporter_tolerant_decodes_total{resource="jobs"} 1\n' in body
            assert 'jobwatch_exporter_tolerant_decodes_total{resource="pods"} 0\n' in body
            assert 'job_name="listed"' in body
            sim.store.create(JOBS, _mistyped("ns", "watched"))
            sim.store.create(JOBS, new_job("ns", "typed", [container("c", ["true"])]))
            await _eventually(lambda: _has(metrics, 'job_name="typed"'))
            body = await _text(metrics)
            assert 'job_name="watched"' in body
            assert 'jobwatch_exporter_tolerant_decodes_total{resource="jobs"} 2\n' in body
            assert 'jobwatch_exporter_parse_errors_total{resource="jobs"} 0\n' in body


@pytest.mark.timeout(60)
async def test_a_deleted_cronjob_leaves_no_cronjob_series(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        player = ScenarioPlayer(sim.store, speed=500)
        await player.run(["cronjob_three_failures_then_success"], until_settled=True)
        config = _settings(sim, tmp_path)
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            metrics = f"{exporter.url}/metrics"
            series = 'jobwatch_cronjob_last_run_state{namespace="sim-cronjob"'
            assert series in await _text(metrics)
            sim.store.delete(CRONJOBS, "sim-cronjob", "nightly-report")
            await _eventually(lambda: _lacks(metrics, series))


@pytest.mark.timeout(60)
async def test_an_informer_that_crashes_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug escaping the informer (here: the store raising once) is an error path no real
    # component produces on demand, hence the patch.
    original = ExporterState.apply
    raised: list[str] = []

    def apply_once_broken(
        self: ExporterState, resource: Resource, event_type: str, obj: Any
    ) -> None:
        if resource == "jobs" and not raised:
            raised.append(event_type)
            raise RuntimeError("store bug")
        original(self, resource, event_type, obj)

    monkeypatch.setattr(ExporterState, "apply", apply_once_broken)
    monkeypatch.setattr("jobwatch.serve.RESTART_INITIAL", 0.05)

    async with SimServer("127.0.0.1", 0) as sim:
        config = _settings(sim, tmp_path)
        async with Exporter(config) as exporter:
            await exporter.wait_ready()
            await ScenarioPlayer(sim.store, speed=500).run(["healthy"], until_settled=True)
            metrics = f"{exporter.url}/metrics"
            await _eventually(lambda: _has(metrics, 'job_name="hello"'))
    assert raised


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


async def _lacks(url: str, needle: str) -> bool:
    return needle not in await _text(url)


def _wait_for_file(path: Path, process: subprocess.Popen[str], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not path.exists() or not path.read_text():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.1)


@pytest.mark.timeout(90)
def test_serve_as_a_process_with_json_logs_and_graceful_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    sim = subprocess.Popen(
        [*JOBWATCH, "sim", "--scenarios", "healthy", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    port = free_port()
    serve: subprocess.Popen[str] | None = None
    try:
        _wait_for_file(kubeconfig, sim)
        env = {**os.environ, "JOBWATCH_LOG_FORMAT": "json"}
        serve = subprocess.Popen(
            [
                *JOBWATCH,
                "serve",
                "--kubeconfig",
                str(kubeconfig),
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"

        async def ready() -> None:
            async def up() -> bool:
                try:
                    return await _status(f"{url}/readyz") == 200
                except aiohttp.ClientError:
                    return False

            await _eventually(up, within=30)
            await _eventually(lambda: _has(f"{url}/metrics", 'job_name="hello"'), within=30)

        asyncio.run(ready())
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=20)
        assert serve.returncode == 0, stderr
        logs = [json.loads(line) for line in stderr.splitlines() if line.strip()]
        messages = [entry["msg"] for entry in logs]
        assert messages[0] == "serving"
        assert "stopping on signal" in messages
        assert logs[0]["url"] == f"{url}/metrics"
    finally:
        for process in (serve, sim):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


async def _has(url: str, needle: str) -> bool:
    return needle in await _text(url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kubeconfig", "/nonexistent/kc"], "jobwatch serve: error: kubeconfig /nonexistent/kc"),
        (["--web.listen-address", "nowhere"], "jobwatch serve: error: --web.listen-address"),
        (["--log.format", "xml"], "jobwatch serve: error: --log.format: must be one of"),
    ],
)
def test_serve_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*JOBWATCH, "serve", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_serve_help_names_every_flag_and_env_var() -> None:
    result = subprocess.run(
        [*JOBWATCH, "serve", "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    for flag in ("--web.listen-address", "--namespaces", "--job.label-selector", "--log.format"):
        assert flag in result.stdout
    assert "JOBWATCH_WEB_LISTEN_ADDRESS" in result.stdout
