"""The status page's JSON at cluster size: `python -m bench.status [JOBS...]`.

/jobs.json filters and orders every Job on each poll, then serialises one page (at most
jobwatch.server.MAX_PAGE, 100 by default). This times that request through the real aiohttp
app, so a 10k-Job cluster's page stays cheap to poll every two seconds.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from aiohttp.test_utils import TestClient, TestServer

from bench.scrape import _toggled
from bench.workload import cluster
from jobwatch.model import JOBS, PODS
from jobwatch.server import build_app
from jobwatch.state import ExporterState

QUERIES = ("", "?state=trouble", "?namespace=ns-1", "?limit=1000")


async def _time(size: int, rounds: int = 9) -> dict[str, tuple[float, int]]:
    c = cluster(size, 2)
    state = ExporterState()
    state.replace(JOBS, None, c.jobs)
    state.replace(PODS, None, c.pods)
    state.exposition(False)  # analyse everything first: this times the page, not analysis
    out: dict[str, tuple[float, int]] = {}
    async with TestClient(TestServer(build_app(state, state.telemetry, status=state))) as client:
        for query in QUERIES:
            times, size_bytes = [], 0
            for _ in range(rounds):
                started = time.perf_counter()
                response = await client.get(f"/jobs.json{query}")
                body = await response.read()
                times.append(time.perf_counter() - started)
                size_bytes = len(body)
            out[query or "(default page)"] = (statistics.median(times), size_bytes)
        versions, flip, times = _toggled(c.pods[0]), 0, []
        for _ in range(rounds):
            flip ^= 1
            state.apply(PODS, "MODIFIED", versions[flip])  # the index is rebuilt once
            started = time.perf_counter()
            response = await client.get("/jobs.json")
            size_bytes = len(await response.read())
            times.append(time.perf_counter() - started)
        out["(default page) after one Job changed"] = (statistics.median(times), size_bytes)
    return out


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1000, 10000]
    print("| Jobs | query | median time | body |")
    print("|---:|---|---:|---:|")
    for size in sizes:
        for query, (seconds, length) in asyncio.run(_time(size)).items():
            print(f"| {size} | `{query}` | {seconds * 1000:.1f} ms | {length / 1024:.0f} KiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
