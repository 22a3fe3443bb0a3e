"""Readiness is "serving truthful data for what it is allowed to see" (issue 11 §3): the whole
exporter against the sim, with one resource refused, checking /readyz, /livez and the series."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.sim import JOBS, SimServer
from tests.exporter.informer_helpers import simple_job


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.timeout(60)
async def test_forbidden_cronjobs_do_not_keep_the_exporter_unready(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        sim.store.create(JOBS, simple_job("ns", "visible"))
        sim.faults.refuse("cronjobs", 403)
        config = settings(
            kubeconfig=str(sim.write_kubeconfig(tmp_path / "kc")),
            listen_address="127.0.0.1:0",
        )
        async with Exporter(config) as exporter:
            await exporter.wait_ready(within=20)
            assert await _get(f"{exporter.url}/readyz") == (
                200,
                "ok: initial LIST synced\nunavailable: cronjobs/*: forbidden\n",
            )
            assert (await _get(f"{exporter.url}/livez"))[0] == 200
            _, text = await _get(f"{exporter.url}/metrics")
            assert (
                'jobwatch_exporter_resource_unavailable{resource="cronjobs",namespace="",'
                'problem="forbidden"} 1' in text
            )
            assert 'jobwatch_exporter_synced{resource="cronjobs"} 0' in text
            assert 'job_name="visible"' in text  # the Jobs it may see are exported
            _, page = await _get(f"{exporter.url}/jobs.json")
            status = orjson.loads(page)
            assert status["exporter"] == {"unavailable": ["cronjobs/*: forbidden"], "pending": []}
            assert [job["name"] for job in status["jobs"]] == ["visible"]
            sim.faults.clear()  # the RBAC rule is added: it recovers without a restart
            recovered = (
                'jobwatch_exporter_resource_unavailable{resource="cronjobs",namespace="",'
                'problem="none"} 0'
            )
            async with asyncio.timeout(40):
                for _ in iter(int, 1):  # until it shows, bounded by the timeout
                    if recovered in (await _get(f"{exporter.url}/metrics"))[1]:
                        break
                    await asyncio.sleep(0.2)
            _, text = await _get(f"{exporter.url}/metrics")
            assert 'jobwatch_exporter_synced{resource="cronjobs"} 1' in text
            _, page = await _get(f"{exporter.url}/jobs.json")
            assert orjson.loads(page)["exporter"] == {"unavailable": [], "pending": []}
