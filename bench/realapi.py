"""Benchmark 6: the exporter against the real API server, and against the sim at the same size.

The real control plane (`make kube`): etcd and kube-apiserver, and a kube-controller-manager that
runs only the ServiceAccount controller (the `default` ServiceAccount pods need); no Job
controller, so the Jobs and pods stay exactly as written. Through the API, with many requests in
flight, this process creates J Jobs (the LoadGenerator's: OnFailure, parallelism K) and for each
its K pods as the Job controller makes them (controller ownerReference, controller-uid labels,
tracking finalizer, bound to the scripted kubelet's Node), then sets each pod Running and ready
through `pods/status` and each Job active through `jobs/status`. The real exporter then starts
in its own process (bench.exporterproc) from the admin kubeconfig: time to ready (paged LISTs,
first render) and RSS growth. Then churn: merge patches of `pods/status` bumping a container's
restartCount at a target rate, while this process scrapes `/metrics` with gzip; received is the
exporter's own `jobwatch_exporter_events_total{resource="pods",type="MODIFIED"}`. The same
client, objects and churn then run against the sim (bench.simproc, its own process).
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.common import Proc, Section, fmt_bytes, fmt_time, percentile, progress
from jobwatch_testbed.kube.build import binaries
from jobwatch_testbed.kube.controlplane import ControlPlane, Options
from jobwatch_testbed.sim.kubeconfig import kubeconfig_yaml
from jobwatch_testbed.sim.kubelet import NODE
from jobwatch_testbed.sim.load import LoadGenerator
from jobwatch_testbed.sim.objects import container, new_job, pod_for_job
from jobwatch_testbed.sim.store import PODS, Store

NS = "bench"
MERGE = "application/merge-patch+json"
RECEIVED = re.compile(
    rb'^jobwatch_exporter_events_total\{[^}]*resource="pods"[^}]*type="MODIFIED"[^}]*\} (\S+)$',
    re.MULTILINE,
)
TICK = 0.01
Obj = dict[str, Any]


# ------------------------------------------------------------------ objects


@dataclass(frozen=True)
class Templates:
    """What each Job and pod looks like: the sim LoadGenerator's, which the sim goal runs use."""

    pods_per_job: int
    pod_status: Obj  # a running, ready pod's status (the sim kubelet's)
    job_status: Obj

    def job(self, index: int) -> Obj:
        return new_job(
            NS,
            f"load-{index:05d}",
            [container("worker", ["/bin/sh", "-c", "process --batch"])],
            restart_policy="OnFailure",
            backoffLimit=1_000_000,
            parallelism=self.pods_per_job,
            completions=self.pods_per_job,
        )

    def pod(self, job: Obj, index: int, node: str) -> Obj:
        pod = pod_for_job(job)
        meta = pod["metadata"]
        meta["name"] = f"{job['metadata']['name']}-{index}"
        del meta["generateName"]
        pod["spec"]["nodeName"] = node
        pod.pop("status", None)
        return pod


def templates(pods_per_job: int) -> Templates:
    gen = LoadGenerator(Store(history_size=1), jobs=1, pods_per_job=1, events_per_second=1)
    gen.populate()
    pod = gen.store.list(PODS)[0][0]
    job_status = {
        "startTime": pod["status"]["startTime"],
        "active": pods_per_job,
        "ready": pods_per_job,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    return Templates(pods_per_job, pod["status"], job_status)


# ------------------------------------------------------------------ servers


TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TCK
    return total


@dataclass
class Target:
    """An API server to benchmark against: its URL, TLS, kubeconfig and processes."""

    name: str
    url: str
    kubeconfig: Path
    pids: list[int]
    node: str
    ssl: ssl.SSLContext | None = None
    close: Callable[[], Awaitable[None]] | None = None


async def real_api(tmp: Path) -> Target:
    # Only the ServiceAccount controller: the ServiceAccount admission wants `default`; no
    # Job controller touches the benchmark's Jobs and pods.
    cp = ControlPlane(Options(controllers=("serviceaccount-controller",), start_timeout=180))
    await asyncio.to_thread(cp.start)

    async def close() -> None:
        await asyncio.to_thread(cp.stop)

    pids = cp.pids()
    return Target(
        "kube-apiserver + etcd",
        cp.url,
        cp.kubeconfig,
        [pids["kube-apiserver"], pids["etcd"]],
        NODE,
        cp.ssl_context(),
        close,
    )


async def sim_api(tmp: Path) -> Target:
    sim = await Proc.spawn("-m", "bench.simproc", "--jobs", "0", "--pods-per-job", "1")
    ready = (await sim.line(120)).split()
    if ready[:1] != ["ready"]:
        await sim.close()
        raise RuntimeError(f"sim did not start: {ready}")
    kubeconfig = tmp / "sim.kubeconfig"
    kubeconfig.write_text(kubeconfig_yaml(ready[1]))
    return Target("sim", ready[1], kubeconfig, [sim.process.pid], NODE, None, sim.close)


# ------------------------------------------------------------------ client


class Client:
    """JSON requests with many in flight; 429, 5xx and broken connections are retried."""

    def __init__(self, target: Target, in_flight: int) -> None:
        self.target = target
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=target.ssl or False, limit=in_flight),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.requests = 0
        self.retries = 0

    async def call(self, method: str, path: str, body: Any, content_type: str = "") -> Any:
        data = orjson.dumps(body)
        headers = {"Content-Type": content_type or "application/json"}
        for attempt in range(8):
            try:
                async with self.session.request(
                    method, self.target.url + path, data=data, headers=headers
                ) as response:
                    raw = await response.read()
                    self.requests += 1
                    if response.status < 300:
                        return orjson.loads(raw)
                    if response.status not in (409, 429) and response.status < 500:
                        raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
                    if response.status == 409 and method == "POST":
                        raise RuntimeError(f"{method} {path}: exists: {raw[:200]!r}")
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.retries += 1
            await asyncio.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"{method} {path}: gave up after retries")

    async def close(self) -> None:
        await self.session.close()


async def _namespace(client: Client) -> None:
    if client.target.ssl is None:
        return  # the sim serves no namespaces: any name is there
    await client.call("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    for _ in range(300):  # the ServiceAccount controller makes `default` in the namespace
        async with client.session.get(
            f"{client.target.url}/api/v1/namespaces/{NS}/serviceaccounts/default"
        ) as response:
            if response.status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("no default ServiceAccount in the benchmark namespace")


@dataclass
class Created:
    seconds: float
    requests: int
    retries: int
    pods: list[tuple[str, Obj]]  # name, status as written
    client_cpu: float  # this process
    server_cpu: float


async def create(client: Client, tpl: Templates, jobs: int, workers: int) -> Created:
    await _namespace(client)
    pods: list[tuple[str, Obj]] = []
    todo: asyncio.Queue[int] = asyncio.Queue()
    for j in range(jobs):
        todo.put_nowait(j)
    jobs_path, pods_path = f"/apis/batch/v1/namespaces/{NS}/jobs", f"/api/v1/namespaces/{NS}/pods"

    async def one_pod(job: Obj, k: int) -> None:
        created = await client.call("POST", pods_path, tpl.pod(job, k, client.target.node))
        name = created["metadata"]["name"]
        status = copy.deepcopy(tpl.pod_status)
        ip = f"10.244.{(len(pods) // 250) % 250}.{len(pods) % 250 + 2}"
        status.update(podIP=ip, podIPs=[{"ip": ip}])
        await client.call("PATCH", f"{pods_path}/{name}/status", {"status": status}, MERGE)
        pods.append((name, status))

    async def worker() -> None:
        while not todo.empty():
            j = todo.get_nowait()
            job = await client.call("POST", jobs_path, tpl.job(j))
            await asyncio.gather(*(one_pod(job, k) for k in range(tpl.pods_per_job)))
            name = job["metadata"]["name"]
            await client.call(
                "PATCH", f"{jobs_path}/{name}/status", {"status": tpl.job_status}, MERGE
            )

    started, cpu0 = time.perf_counter(), time.process_time()
    server0 = cpu_seconds(client.target.pids)
    await asyncio.gather(*(worker() for _ in range(workers)))
    return Created(
        time.perf_counter() - started,
        client.requests,
        client.retries,
        pods,
        time.process_time() - cpu0,
        cpu_seconds(client.target.pids) - server0,
    )


# ------------------------------------------------------------------ exporter and churn


CONTINUE = re.compile(rb'"continue":"([^"]+)"')


@dataclass
class Served:
    """Every LIST page of the Jobs and pods, read by a client that only reads the bytes."""

    seconds: float
    server_cpu: float
    size: int
    pages: int


async def read_lists(client: Client, page: int = 500) -> Served:
    """What serving the exporter's paged LISTs costs the server alone: the same requests
    (`limit`, following `continue`), no parsing beyond finding the continue token."""
    started, cpu0 = time.perf_counter(), cpu_seconds(client.target.pids)
    size = pages = 0
    for path in ("/apis/batch/v1/jobs", "/api/v1/pods"):
        token = b""
        while True:
            params = {"limit": str(page)} | ({"continue": token.decode()} if token else {})
            async with client.session.get(client.target.url + path, params=params) as response:
                body = await response.read()
            size, pages = size + len(body), pages + 1
            found = CONTINUE.search(body, 0, 4096)  # the list metadata comes first
            if found is None:
                break
            token = found.group(1)
    return Served(
        time.perf_counter() - started, cpu_seconds(client.target.pids) - cpu0, size, pages
    )


async def _scrape(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}) as response:
        await response.read()
    return time.perf_counter() - started


async def _received(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/metrics") as response:
        body = await response.read()
    return sum(int(float(m)) for m in RECEIVED.findall(body))


@dataclass
class Run:
    target: str
    jobs: int
    pods: int
    created: Created
    served: Served
    sync: float
    server_sync_cpu: float
    exporter_sync_cpu: float
    base_kib: int
    after_kib: int
    peak_kib: int
    unchanged: list[float] = field(default_factory=list)
    churn: list[float] = field(default_factory=list)
    emitted: int = 0
    received: int = 0
    churn_seconds: float = 0.0
    drained: float | None = None
    server_churn_cpu: float = 0.0


async def churn(
    client: Client, pods: list[tuple[str, Obj]], rate: float, seconds: float
) -> tuple[int, float]:
    """Merge patches of pods/status, each bumping a restartCount, at `rate` per second."""
    path = f"/api/v1/namespaces/{NS}/pods"
    inflight: set[asyncio.Task[Any]] = set()
    done = 0
    bumps = 0

    async def patch(name: str, status: Obj) -> None:
        nonlocal done
        statuses = copy.deepcopy(status["containerStatuses"])
        statuses[0]["restartCount"] = statuses[0].get("restartCount", 0) + 1
        status["containerStatuses"] = statuses
        await client.call(
            "PATCH", f"{path}/{name}/status", {"status": {"containerStatuses": statuses}}, MERGE
        )
        done += 1

    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(int(elapsed * rate) - bumps):
            name, status = pods[bumps % len(pods)]
            task = asyncio.create_task(patch(name, status))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            bumps += 1
        await asyncio.sleep(TICK)
    if inflight:
        await asyncio.gather(*inflight)
    return done, time.perf_counter() - started


@dataclass(frozen=True)
class Sizes:
    """One run: how many Jobs, pods per Job, writers in flight, and the churn."""

    jobs: int
    pods_per_job: int
    workers: int = 48
    """Concurrent creators; each has a Job's pods in flight at once."""
    rate: float = 200.0
    """Pod status patches per second during churn."""
    seconds: float = 10.0
    """How long the churn lasts."""
    every: float = 1.0
    """Seconds between scrapes during churn."""
    scrapes: int = 10
    """Scrapes of the unchanged exporter after its sync."""
    with_sim: bool = True
    """Also run against the sim at the same size."""


async def measure(target: Target, tpl: Templates, sizes: Sizes) -> Run:
    jobs, workers, rate, seconds = sizes.jobs, sizes.workers, sizes.rate, sizes.seconds
    every, scrapes = sizes.every, sizes.scrapes
    client = Client(target, in_flight=workers * 2)
    exporter: Proc | None = None
    try:
        progress(f"realapi: {target.name}: creating {jobs} Jobs x {tpl.pods_per_job} pods")
        created = await create(client, tpl, jobs, workers)
        progress(
            f"realapi: {target.name}: created in {created.seconds:.1f} s "
            f"({created.requests / created.seconds:.0f} requests/s, CPU client "
            f"{created.client_cpu:.1f} s, server {created.server_cpu:.1f} s); exporter sync"
        )
        served = await read_lists(client)
        exporter = await Proc.spawn(
            "-m", "bench.exporterproc", "--kubeconfig", str(target.kubeconfig)
        )
        base = int((await exporter.line()).split()[1])
        cpu0, exporter0 = cpu_seconds(target.pids), cpu_seconds([exporter.process.pid])
        _, url, sync = (await exporter.line(1800)).split()
        server_sync = cpu_seconds(target.pids) - cpu0
        exporter_sync = cpu_seconds([exporter.process.pid]) - exporter0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            await _scrape(session, url)
            unchanged = [await _scrape(session, url) for _ in range(scrapes)]
            stats = orjson.loads(await exporter.ask("stats"))
            before = await _received(session, url)
            progress(f"realapi: {target.name}: churn at {rate:g} pod status patches/s")
            cpu0 = cpu_seconds(target.pids)
            emitting = asyncio.create_task(churn(client, created.pods, rate, seconds))
            scraped = []
            while not emitting.done():
                await asyncio.sleep(every)
                scraped.append(await _scrape(session, url))
            emitted, took = await emitting
            server_churn = cpu_seconds(target.pids) - cpu0
            received = await _received(session, url) - before
            waited = time.perf_counter()
            drained: float | None = 0.0
            while received < emitted:
                if time.perf_counter() - waited > 10:
                    drained = None
                    break
                await asyncio.sleep(0.1)
                received = await _received(session, url) - before
                drained = time.perf_counter() - waited
        return Run(
            target=target.name,
            jobs=jobs,
            pods=stats["pods"],
            created=created,
            served=served,
            sync=float(sync),
            server_sync_cpu=server_sync,
            exporter_sync_cpu=exporter_sync,
            base_kib=base,
            after_kib=stats["rss_kib"],
            peak_kib=stats["hwm_kib"],
            unchanged=unchanged,
            churn=scraped,
            emitted=emitted,
            received=received,
            churn_seconds=took,
            drained=drained,
            server_churn_cpu=server_churn,
        )
    finally:
        if exporter is not None:
            await exporter.close()
        await client.close()


async def _run_all(sizes: Sizes) -> list[Run]:
    tpl = templates(sizes.pods_per_job)
    runs = []
    starters = [real_api, *([sim_api] if sizes.with_sim else [])]
    with tempfile.TemporaryDirectory() as tmp:
        for start in starters:
            progress(f"realapi: starting {start.__name__}")
            target = await start(Path(tmp))
            try:
                runs.append(await measure(target, tpl, sizes))
            finally:
                if target.close is not None:
                    await target.close()
    return runs


# ------------------------------------------------------------------ report


def _p(values: list[float], q: float) -> str:
    return fmt_time(percentile(values, q)) if values else "-"


def _row(run: Run) -> list[str]:
    c = run.created
    objects = run.jobs + run.pods
    drained = (
        "all"
        if run.drained == 0.0
        else (
            f"all after {fmt_time(run.drained)}" if run.drained is not None else "not within 10 s"
        )
    )
    return [
        run.target,
        f"{run.jobs:,} / {run.pods:,}",
        f"{c.seconds:.1f} s: {objects / c.seconds:,.0f} objects/s, {c.requests / c.seconds:,.0f} "
        f"requests/s ({c.retries} retried)",
        f"{run.served.server_cpu:.2f} s CPU, {run.served.seconds:.2f} s, "
        f"{fmt_bytes(run.served.size)} in {run.served.pages} pages "
        f"({fmt_bytes(run.served.size / max(objects, 1))} per object)",
        f"{run.sync:.2f} s",
        f"{run.server_sync_cpu:.2f} s / {run.exporter_sync_cpu:.2f} s",
        f"{fmt_bytes((run.after_kib - run.base_kib) * 1024)} "
        f"(peak {fmt_bytes((run.peak_kib - run.base_kib) * 1024)})",
        f"{_p(run.unchanged, 50)} / {_p(run.unchanged, 99)}",
        f"{run.emitted / max(run.churn_seconds, 1e-9):,.0f}/s: {run.emitted} sent, "
        f"{run.received} received ({drained})",
        f"{_p(run.churn, 50)} / {_p(run.churn, 99)}",
    ]


COLUMNS = [
    "API server",
    "Jobs / pods",
    "creation through the API",
    "every LIST page to a byte reader: server CPU, wall, size",
    "exporter ready after",
    "CPU during the sync: server / exporter",
    "exporter RSS growth",
    "scrape unchanged (gzip) p50 / p99",
    "churn: pod status patches",
    "scrape during churn p50 / p99",
]


def unavailable_section(reason: str) -> Section:
    return Section(
        title="6. Real API server (issue 12)",
        measures=(__doc__ or "").split("\n\n", 1)[1].replace("\n", " "),
        columns=COLUMNS,
        rows=[],
        headline=f"Not run: {reason}.",
        meaning="Run `make kube` to build the control plane, then `make bench`.",
    )


def run(sizes: Sizes) -> Section:
    missing = binaries().missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError(f"missing {', '.join(missing)}: run `make kube`")
        return unavailable_section(f"missing {', '.join(missing)} (`make kube`)")
    runs = asyncio.run(_run_all(sizes))
    real = runs[0]
    size = f"{real.jobs:,} Jobs / {real.pods:,} pods"
    headline = (
        f"Against the real kube-apiserver at **{size}** (the size this benchmark runs; creation "
        f"through the API dominates its time) the exporter is ready after **{real.sync:.2f} s**"
    )
    notes = [
        f"Size: {size}, {sizes.pods_per_job} pods per Job, created by {sizes.workers} concurrent "
        f"workers (each: POST Job, POST its pods and PATCH their status, PATCH the Job's "
        f"status). Churn: {sizes.rate:g} patches/s for {sizes.seconds:g} s, a gzip scrape "
        f"every {sizes.every:g} s.",
    ]
    if len(runs) > 1:
        sim = runs[1]
        headline += (
            f", {real.sync / max(sim.sync, 1e-9):.1f}× its {sim.sync:.2f} s against the sim at "
            f"the same size; scrape p99 during churn {_p(real.churn, 99)} (sim {_p(sim.churn, 99)})."
        )
        notes.append(
            f"Serving the sync cost the real API server (kube-apiserver + etcd) "
            f"{real.server_sync_cpu:.2f} s of CPU and the sim {sim.server_sync_cpu:.2f} s; "
            f"the exporter {real.exporter_sync_cpu:.2f} s / {sim.exporter_sync_cpu:.2f} s. "
            f"Serving every LIST page to a client that only reads bytes (before the exporter "
            f"starts) cost the sim {sim.served.server_cpu:.2f} s of CPU, "
            f"{sim.served.server_cpu / max(sim.exporter_sync_cpu, 1e-9):.0%} of what the "
            f"exporter then spent syncing from it, and the real API server "
            f"{real.served.server_cpu:.2f} s; the real objects are "
            f"{real.served.size / max(sim.served.size, 1):.1f}× the sim's bytes (managedFields). "
            f"During churn the servers used {real.server_churn_cpu:.2f} s / "
            f"{sim.server_churn_cpu:.2f} s of CPU."
        )
    else:
        headline += f"; scrape p99 during churn {_p(real.churn, 99)}."
    if real.unchanged:
        notes.append(
            f"Median unchanged scrape: {fmt_time(statistics.median(real.unchanged))} (real API)."
        )
    return Section(
        title="6. Real API server (issue 12)",
        measures=(__doc__ or "").split("\n\n", 1)[1].replace("\n", " "),
        columns=COLUMNS,
        rows=[_row(r) for r in runs],
        headline=headline,
        meaning=(
            "The exporter's numbers hold against the real API server's paged LISTs and watch "
            "streams, not only against the sim."
        ),
        notes=notes,
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.realapi")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--pods-per-job", type=int, default=5)
    parser.add_argument("--workers", type=int, default=48)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-sim", action="store_true")
    args = parser.parse_args()
    sizes = Sizes(
        args.jobs,
        args.pods_per_job,
        workers=args.workers,
        rate=args.rate,
        seconds=args.seconds,
        with_sim=not args.no_sim,
    )
    section = run(sizes)
    print(section.markdown())
