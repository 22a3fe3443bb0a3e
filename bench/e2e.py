"""Benchmark 4: the real exporter over HTTP against the sim, as Prometheus would see it.

The sim (`bench.simproc`, its own process) serves 1000 Jobs with 2 pods each and emits pod
MODIFIED events at a set rate. The real `Exporter` in this process lists, watches and serves
`/metrics`; an aiohttp client here scrapes it. The sim's emitted count is compared with the
exporter's `jobwatch_exporter_events_total{resource="pods",type="MODIFIED"}` from a real scrape.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import Section, fmt_bytes, fmt_time, percentile, progress
from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.sim.kubeconfig import kubeconfig_yaml

ROOT = Path(__file__).resolve().parents[1]
EVENTS = b'jobwatch_exporter_events_total{resource="pods",type="MODIFIED"} '
KEEPS_UP = 0.5  # seconds of events that may still be in flight when the load stops


@dataclass(frozen=True)
class Rss:
    """KiB: current RSS before the exporter started, at ready, after the load; peak RSS."""

    before: int
    ready: int
    after: int
    peak: int


@dataclass(frozen=True)
class Window:
    rate: float
    emitted: int
    seconds: float
    received: int
    lag: int
    drained: float | None
    plain: list[float]
    gzipped: list[float]
    exporter_cpu: float  # share of one core used by this process during the window
    sim_cpu: float | None  # the same for the sim process, where /proc says

    @property
    def sim_bound(self) -> bool:
        """The sim's process, not the exporter, was the busy one: it could not feed faster."""
        return self.sim_cpu is not None and self.sim_cpu > 0.75 > self.exporter_cpu

    @property
    def keeps_up(self) -> bool:
        return self.lag <= self.rate * KEEPS_UP or (self.drained is not None and self.drained < 1)


class _Sim:
    """The sim process and its line protocol (see `bench.simproc`)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return (await asyncio.wait_for(self.process.stdout.readline(), 60)).decode().strip()

    async def close(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.write(b"quit\n")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _cpu_seconds(pid: int | None = None) -> float | None:
    """CPU seconds (user + system) of this process, or of `pid` from /proc (None if unknown)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size in KiB; current from /proc where there is one."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]), peak
    except OSError:
        pass
    return peak, peak


async def _scrape(session: aiohttp.ClientSession, url: str, gzip: bool) -> tuple[float, bytes]:
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    started = time.perf_counter()
    async with session.get(f"{url}/metrics", headers=headers) as response:
        body = await response.read()
    return time.perf_counter() - started, body


async def _events(session: aiohttp.ClientSession, url: str) -> int:
    _, body = await _scrape(session, url, gzip=False)
    start = body.find(EVENTS)
    if start < 0:
        return 0
    end = body.index(b"\n", start)
    return int(float(body[start + len(EVENTS) : end]))


async def _window(
    sim: _Sim,
    session: aiohttp.ClientSession,
    url: str,
    *,
    rate: float,
    seconds: float,
    every: float,
) -> Window:
    before = await _events(session, url)
    assert await sim.ask(f"start {rate:g}") == "started"
    started = time.perf_counter()
    cpu_before, sim_before = _cpu_seconds(), _cpu_seconds(sim.process.pid)
    plain: list[float] = []
    gzipped: list[float] = []
    while time.perf_counter() - started < seconds:
        # Alternate which goes first: the first scrape after a pause also renders changed Jobs.
        for gzip in (False, True) if len(plain) % 2 else (True, False):
            (gzipped if gzip else plain).append((await _scrape(session, url, gzip))[0])
        await asyncio.sleep(every)
    emitted = int((await sim.ask("stop")).split()[1])
    stopped = time.perf_counter()
    cpu_after, sim_after = _cpu_seconds(), _cpu_seconds(sim.process.pid)
    assert cpu_before is not None
    assert cpu_after is not None
    exporter_cpu = (cpu_after - cpu_before) / (stopped - started)
    sim_cpu = None
    if sim_before is not None and sim_after is not None:
        sim_cpu = (sim_after - sim_before) / (stopped - started)
    received = await _events(session, url) - before
    lag = emitted - received
    drained: float | None = 0.0 if lag <= 0 else None
    while drained is None and time.perf_counter() - stopped < 10:
        if await _events(session, url) - before >= emitted:
            drained = time.perf_counter() - stopped
            break
        await asyncio.sleep(0.05)
    return Window(
        rate,
        emitted,
        stopped - started,
        received,
        lag,
        drained,
        plain,
        gzipped,
        exporter_cpu,
        sim_cpu,
    )


def run(
    jobs: int = 1000,
    pods_per_job: int = 2,
    rates: Sequence[float] = (250, 500, 1000, 2000, 4000),
    seconds: float = 5.0,
    scrape_every: float = 0.25,
) -> Section:
    return asyncio.run(_run(jobs, pods_per_job, rates, seconds, scrape_every))


async def _run(
    jobs: int, pods_per_job: int, rates: Sequence[float], seconds: float, every: float
) -> Section:
    progress(f"e2e: starting the sim process with {jobs} Jobs x {pods_per_job} pods")
    rss_before, _ = _rss_kib()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.simproc", "--jobs", str(jobs)),
        *("--pods-per-job", str(pods_per_job)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    sim = _Sim(process)
    windows: list[Window] = []
    try:
        assert process.stdout is not None
        ready_line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode().split()
        if ready_line[:1] != ["ready"]:
            raise RuntimeError(f"sim did not start: {ready_line}")
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = Path(tmp, "kubeconfig")
            await asyncio.to_thread(kubeconfig.write_text, kubeconfig_yaml(ready_line[1]))
            progress("e2e: starting the exporter, waiting for the initial LISTs")
            started = time.perf_counter()
            options = settings(kubeconfig=str(kubeconfig), listen_address="127.0.0.1:0")
            async with Exporter(options) as exporter:
                await exporter.wait_ready(within=120)
                to_ready = time.perf_counter() - started
                rss_ready, _ = _rss_kib()
                async with aiohttp.ClientSession() as session:
                    body = (await _scrape(session, exporter.url, gzip=False))[1]
                    for rate in rates:
                        progress(
                            f"e2e: {rate:g} events/s for {seconds:g} s, scraping every {every:g} s"
                        )
                        windows.append(
                            await _window(
                                sim, session, exporter.url, rate=rate, seconds=seconds, every=every
                            )
                        )
                rss_after, peak_after = _rss_kib()
    finally:
        await sim.close()
    return _section(
        jobs,
        pods_per_job,
        windows,
        to_ready=to_ready,
        body=len(body),
        every=every,
        seconds=seconds,
        rss=Rss(rss_before, rss_ready, rss_after, peak_after),
    )


def _section(
    jobs: int,
    pods_per_job: int,
    windows: list[Window],
    *,
    to_ready: float,
    body: int,
    every: float,
    seconds: float,
    rss: Rss,
) -> Section:
    rows = []
    for w in windows:
        rows.append(
            [
                f"{w.rate:g}",
                f"{w.emitted / w.seconds:,.0f}",
                f"{w.received / w.seconds:,.0f}",
                f"{w.lag}",
                "none in flight"
                if w.drained == 0
                else "—"
                if w.drained is None
                else fmt_time(w.drained),
                f"{w.exporter_cpu:.0%} / " + ("n/a" if w.sim_cpu is None else f"{w.sim_cpu:.0%}"),
                "yes" if w.keeps_up else "no, sim-bound" if w.sim_bound else "**no**",
                f"{fmt_time(statistics.median(w.plain))} / {fmt_time(percentile(w.plain, 95))}",
                f"{fmt_time(statistics.median(w.gzipped))} / {fmt_time(percentile(w.gzipped, 95))}",
            ]
        )
    kept = [w.rate for w in windows if w.keeps_up]
    best = max((w for w in windows if w.keeps_up), key=lambda w: w.rate, default=None)
    cpu_note = ""
    if best is not None and best.received:
        per_event = best.exporter_cpu * best.seconds / best.received
        cpu_note = (
            f" At {best.rate:g} events/s the exporter process used {best.exporter_cpu:.0%} of a "
            f"core: about {fmt_time(per_event)} of CPU per event over HTTP, scrapes included."
        )
    if any(w.sim_bound for w in windows):
        cpu_note += (
            " Above that the sim, not the exporter, saturates (sim-bound rows: the sim process "
            "near a full core while the exporter idles), so this is a lower bound."
        )
    sustained = (
        f"at least {max(kept):g} events/s"
        if kept
        else f"below {min(w.rate for w in windows):g} events/s"
    )
    if kept and max(kept) == max(w.rate for w in windows):
        sustained = f"at least {max(kept):g} events/s (the highest rate tried)"
    per_job = (rss.after - rss.before) * 1024 / jobs
    at_ready = (rss.ready - rss.before) * 1024 / jobs
    idle = windows[0] if windows else None
    gz_ratio = statistics.median(idle.gzipped) / statistics.median(idle.plain) if idle else 0.0
    return Section(
        title="4. End to end over HTTP",
        measures=(
            f"The sim API server in its own process with {jobs} Jobs × {pods_per_job} running "
            "pods and the `LoadGenerator` emitting pod MODIFIED events at each rate for "
            f"{seconds:g} s; the real `Exporter` (informers, "
            "state, aiohttp server) in the benchmark process, started from a kubeconfig, "
            "`listen_address=127.0.0.1:0`. Time to ready is from `Exporter.__aenter__` to "
            "`wait_ready()` (paged initial LISTs, 500 per page). Received is the increase of "
            '`jobwatch_exporter_events_total{resource="pods",type="MODIFIED"}` read from '
            "`/metrics`; lag is emitted − received when the load stops, drained is how long "
            f"until the exporter had counted every emitted event. A rate is kept up with when "
            f"at most {KEEPS_UP:g} s worth of events are in flight at the end (or they drain "
            f"within 1 s). During each window an aiohttp client GETs `/metrics` every {every:g} s, "
            "once without and once with `Accept-Encoding: gzip` (what Prometheus sends); "
            "latency is median / p95. CPU is each process's user + system time during the "
            "window as a share of one core (the exporter's includes the scraping client)."
        ),
        columns=[
            "target events/s",
            "emitted/s",
            "received/s",
            "lag at stop",
            "drained after",
            "CPU exporter / sim",
            "keeps up",
            "scrape plain p50 / p95",
            "scrape gzip p50 / p95",
        ],
        rows=rows,
        headline=(
            f"Ready after **{fmt_time(to_ready)}** ({jobs} Jobs, {jobs * pods_per_job} pods); "
            f"keeps up with **{sustained}**.{cpu_note} The /metrics body is {fmt_bytes(body)}; a gzip "
            f"scrape costs {gz_ratio:.1f}× a plain one at the lowest rate. RSS grew by "
            f"{fmt_bytes(at_ready)} per tracked Job (with its {pods_per_job} pods) from before "
            f"the exporter started to ready, {fmt_bytes(per_job)} per Job to after the load; "
            f"the process was {fmt_bytes(rss.before * 1024)} before the exporter started, "
            f"{fmt_bytes(rss.after * 1024)} after (peak {fmt_bytes(rss.peak * 1024)})."
        ),
        meaning=(
            f"A new exporter replica serves {jobs} Jobs {fmt_time(to_ready)} after start, "
            f"follows pod churn up to {max(kept) if kept else 0:g} events/s with scrape latency "
            "in milliseconds; plan its memory as the process base plus about "
            f"{fmt_bytes(per_job)} per Job."
        ),
        notes=[
            "The sim shares the 2-core machine with the exporter, so the highest rates measure "
            "the pair; the sim's own emitted/s falls short of the target when it saturates.",
            "RSS is measured in the benchmark process, which runs this benchmark first so "
            "earlier benchmarks' allocations do not hide it; it includes the aiohttp client.",
        ],
    )
