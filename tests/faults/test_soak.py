"""A bounded soak (issue 11): `jobwatch serve` as a real process against the sim for about two
minutes of churn (Jobs created, failing and deleted), with 20 concurrent scrapers and one slow
reader. Zero scrape errors, RSS flat after warm-up, and no event lost: at the end the exported
Jobs equal the sim's and the failure counter equals the failures that happened."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from jobwatch.settings import split_listen_address
from jobwatch_testbed.monitoring import free_port
from jobwatch_testbed.sim import JOBS, SimServer
from tests.faults.support import failing_job, scraped

SECONDS = float(os.environ.get("JOBWATCH_SOAK_SECONDS", "100"))
WARM_UP = 25.0
SCRAPERS = 20
NS = "soak"

pytestmark = pytest.mark.timeout(SECONDS + 120)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _churn(sim: SimServer, stop: asyncio.Event, made: list[int]) -> None:
    """About 20 Jobs a second: each gets one failed pod; the oldest are deleted (TTL-like)."""
    n = 0
    live: list[str] = []
    while not stop.is_set():
        name = f"churn-{n:06d}"
        failing_job(sim, NS, name)
        made[0] += 1
        live.append(name)
        if len(live) > 150:
            sim.store.delete(JOBS, NS, live.pop(0))
        n += 1
        await asyncio.sleep(0.05)


async def _scraper(url: str, stop: asyncio.Event, results: list[int]) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
                    await response.read()
                    results.append(response.status)
            except (aiohttp.ClientError, TimeoutError):
                results.append(-1)
            await asyncio.sleep(0.2)


async def _slow_reader(host: str, port: int, stop: asyncio.Event) -> int:
    """Reads a scrape 512 bytes at a time, slowly: it must not hold anyone else up."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    got = 0
    while not stop.is_set() and (chunk := await reader.read(512)):
        got += len(chunk)
        await asyncio.sleep(0.5)
    writer.close()
    return got


def _start(kubeconfig: Path, address: str, log: Any) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "jobwatch", "serve", "--kubeconfig", str(kubeconfig),
            "--web.listen-address", address, "--namespaces", NS, "--watch.cronjobs=false",
            "--resync.period", "5", "--relist.period", "30", "--log.level", "warning"]  # fmt: skip
    return subprocess.Popen(argv, stdout=log, stderr=log)


async def test_soak(tmp_path: Path) -> None:
    async with SimServer("127.0.0.1", 0) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kc")
        address = f"127.0.0.1:{free_port()}"
        log = (tmp_path / "exporter.log").open("wb")
        process = _start(kubeconfig, address, log)
        try:
            await _soak(sim, process, address)
        finally:
            process.terminate()
            process.wait(timeout=20)
            log.close()


async def _soak(sim: SimServer, process: subprocess.Popen[bytes], address: str) -> None:
    host, port = split_listen_address(address)
    url = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            for _ in iter(int, 1):
                try:
                    async with session.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
    stop, made = asyncio.Event(), [0]
    results: list[int] = []
    tasks = [asyncio.create_task(_churn(sim, stop, made))]
    tasks += [
        asyncio.create_task(_scraper(f"{url}/metrics", stop, results)) for _ in range(SCRAPERS)
    ]
    slow = asyncio.create_task(_slow_reader(host, port, stop))
    rss: list[tuple[float, int]] = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < SECONDS:
        await asyncio.sleep(2.0)
        rss.append((elapsed, _rss_kib(process.pid)))
        assert process.poll() is None, "the exporter died"
    stop.set()
    await asyncio.gather(*tasks)
    slow.cancel()
    # No event lost: the exporter converges to the sim, and every failure counted exactly.
    want = {o["metadata"]["name"] for o in sim.store.list(JOBS, NS)[0]}
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(30):
            for _ in iter(int, 1):
                async with session.get(f"{url}/metrics") as response:
                    text = await response.text()
                names, failures = scraped(text)
                if names == want and failures == made[0]:
                    break
                await asyncio.sleep(0.5)
    assert names == want, (len(names ^ want), "Jobs differ")
    assert failures == made[0]  # every failed pod counted once, none lost with its deleted Job
    assert results
    assert all(status == 200 for status in results), {s for s in results if s != 200}
    steady = [kib for at, kib in rss if at >= WARM_UP]
    half = len(steady) // 2
    first, last = statistics.median(steady[:half]), statistics.median(steady[half:])
    assert last <= first * 1.15 + 8 * 1024, f"RSS grew from {first} KiB to {last} KiB"
    print(f"soak: {made[0]} Jobs, {len(results)} scrapes, RSS {first:.0f} -> {last:.0f} KiB")
