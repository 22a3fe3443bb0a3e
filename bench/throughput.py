"""Benchmark 3: in-process event throughput, the informer's work without the network.

Each event is what `Informer._handle_line` does with a watch line (`orjson.loads`, then
`state.apply`), and after every second of that work the state is scraped once, which analyses
and re-renders the Jobs that changed since the last scrape.
"""

from __future__ import annotations

import statistics
import time

import orjson

from bench.common import Section, fmt_time, progress
from bench.workload import generator, modified_pod_lines
from jobwatch.model import JOBS, PODS
from jobwatch.state import ExporterState
from jobwatch_testbed.sim.store import JOBS as SIM_JOBS
from jobwatch_testbed.sim.store import PODS as SIM_PODS

CHECK_EVERY = 64  # events between clock reads


def run(
    jobs: int = 1000,
    pods_per_job: int = 3,
    distinct_events: int = 6000,
    seconds: float = 5.0,
    scrape_every: float = 1.0,
) -> Section:
    progress(f"throughput: {jobs} Jobs x {pods_per_job} pods, {distinct_events} pod events")
    gen = generator(jobs, pods_per_job)
    job_objs, pod_objs = gen.store.list(SIM_JOBS)[0], gen.store.list(SIM_PODS)[0]
    lines = modified_pod_lines(gen, distinct_events)
    state = ExporterState()
    state.replace(JOBS, None, job_objs)
    state.replace(PODS, None, pod_objs)
    state.exposition(False)
    progress(f"throughput: replaying events for {seconds:.0f} s, a scrape every {scrape_every} s")
    events = 0
    scrapes: list[float] = []
    dirty_jobs: list[int] = []
    analysed = state.analysed
    started = last_scrape = time.perf_counter()
    deadline = started + seconds
    while True:
        for line in lines:
            event = orjson.loads(line)
            state.apply(PODS, event["type"], event["object"])
            events += 1
            if events % CHECK_EVERY:
                continue
            now = time.perf_counter()
            if now - last_scrape >= scrape_every:
                state.exposition(False)
                last_scrape = time.perf_counter()
                scrapes.append(last_scrape - now)
                dirty_jobs.append(state.analysed - analysed)
                analysed = state.analysed
            if now >= deadline:
                break
        else:
            continue
        break
    elapsed = time.perf_counter() - started
    rate = events / elapsed
    in_scrapes = sum(scrapes) / elapsed
    scrape = statistics.median(scrapes) if scrapes else 0.0
    rendered = statistics.median(dirty_jobs) if dirty_jobs else 0
    per_event = (elapsed - sum(scrapes)) / events
    return Section(
        title="3. Event throughput in process",
        measures=(
            f"{jobs} Jobs with {pods_per_job} pods in an `ExporterState`; {distinct_events} "
            "distinct pod `MODIFIED` watch lines from the `LoadGenerator` (crash / back-off / "
            "restart), replayed in a loop through `orjson.loads` + "
            f"`state.apply('pods', 'MODIFIED', obj)` for {seconds:.0f} s, with a text scrape "
            f"after every {scrape_every:g} s of that work (the scrape analyses and re-renders "
            "every Job changed since the previous one). Single thread, no network."
        ),
        columns=[
            "events",
            "elapsed",
            "events/s",
            "per event (parse + apply)",
            "scrape",
            "time in scrapes",
        ],
        rows=[
            [
                f"{events}",
                fmt_time(elapsed),
                f"{rate:,.0f}",
                fmt_time(per_event),
                f"{fmt_time(scrape)} median, {rendered:.0f} Jobs analysed each",
                f"{in_scrapes:.0%}",
            ]
        ],
        headline=(
            f"**{rate:,.0f} pod events/s** on one core with a scrape every second; the scrape "
            f"under that load (re-analysing about {rendered:.0f} changed Jobs) takes "
            f"{fmt_time(scrape)}, {in_scrapes:.0%} of the time."
        ),
        meaning=(
            f"A busy cluster with 100 pod status changes per second costs the exporter about "
            f"{100 / rate:.1%} of one core for parsing, bookkeeping and rendering (the HTTP "
            "watch stream comes on top: benchmark 4)."
        ),
    )
