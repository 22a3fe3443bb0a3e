"""`jobwatch serve` against the real API server (issue 10 §3, issue 11's real-control-plane
fault cases): after each situation the exported Jobs equal the truth read back with kubectl —
(namespace, name) in the scraped series and the uid in the store, so a Job deleted and recreated
under the same name is not mistaken for the old one.

Situations: the initial paged LIST (more than one page); watch resume after a cut connection
(no relist) with bookmarks; an API-server restart; an etcd restart; a 410 after etcd
compaction (a second control plane, watch cache off, compaction every 2 s); Jobs deleted and
recreated under the same name while the exporter was disconnected.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from jobwatch.serve import Exporter
from jobwatch.settings import settings
from jobwatch_testbed.kube.controlplane import ControlPlane, Options, kubeconfig_text
from jobwatch_testbed.proxy import TCPProxy
from tests.tools import kube_binaries, unavailable

pytestmark = pytest.mark.timeout(240)
CONVERGE = 90.0


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "suspend": True,  # no pods: the tests are about Job objects and the watch
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                }
            },
        },
    }


async def _create(cp: ControlPlane, ns: str, names: list[str]) -> None:
    for name in names:
        await asyncio.to_thread(
            cp.request, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", _job(name)
        )


async def _delete(cp: ControlPlane, ns: str, names: list[str]) -> None:
    for name in names:
        await asyncio.to_thread(
            cp.request,
            "DELETE",
            f"/apis/batch/v1/namespaces/{ns}/jobs/{name}",
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )


async def _truth(cp: ControlPlane, ns: str) -> dict[str, str]:
    """name -> uid of the Jobs in `ns`, as kubectl reads them back."""
    text = await asyncio.to_thread(cp.kubectl, "-n", ns, "get", "jobs", "-o", "json")
    return {j["metadata"]["name"]: j["metadata"]["uid"] for j in json.loads(text)["items"]}


async def _exported(exporter: Exporter, ns: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"{exporter.url}/metrics") as r:
        body = await r.text()
    scraped = {
        line.split('job_name="', 1)[1].split('"', 1)[0]
        for line in body.splitlines()
        if line.startswith("jobwatch_job_info{") and f'namespace="{ns}"' in line
    }
    held = {j.name: j.uid for j in exporter.state.store.jobs.values() if j.namespace == ns}
    if scraped != set(held):
        # The renderer publishes the body a moment after the store changed (the staleness
        # bound, docs/scaling.md): not converged yet; what /metrics shows is what counts.
        return dict.fromkeys(scraped, "")
    return held


async def _converged(cp: ControlPlane, exporter: Exporter, ns: str) -> dict[str, str]:
    want: dict[str, str] = {}
    have: dict[str, str] = {}
    try:
        async with asyncio.timeout(CONVERGE):
            for _ in iter(int, 1):
                want, have = await _truth(cp, ns), await _exported(exporter, ns)
                if want == have:
                    return have
                await asyncio.sleep(0.3)
    except TimeoutError:
        pass
    ghosts, missing = have.keys() - want.keys(), want.keys() - have.keys()
    stale = {n for n in want.keys() & have.keys() if want[n] != have[n]}
    raise AssertionError(f"not converged: ghosts {ghosts}, missing {missing}, stale uid {stale}")


def _counter(exporter: Exporter, family: str, *labels: str) -> float:
    counters = {
        "requests": exporter.state.telemetry.requests,
        "relists": exporter.state.telemetry.relists,
    }
    return counters[family].value(labels)


@asynccontextmanager
async def _serving(
    cp: ControlPlane, tmp: Path, ns: str
) -> AsyncIterator[tuple[Exporter, TCPProxy]]:
    """The exporter, scoped to `ns`, talking to the API server through a TCP proxy."""
    host, port = cp.url.removeprefix("https://").rsplit(":", 1)
    async with TCPProxy(host, int(port)) as proxy:
        kubeconfig = tmp / "kubeconfig"
        server = f"https://127.0.0.1:{proxy.port}"
        kubeconfig.write_text(kubeconfig_text(server, cp.certs.ca.cert, "admin", cp.certs.admin))
        config = settings(
            kubeconfig=str(kubeconfig),
            listen_address="127.0.0.1:0",
            namespaces=(ns,),
            watch_cronjobs=False,
            watch_idle_timeout=75.0,  # > the API server's one-minute bookmark period
        )
        async with Exporter(config) as exporter:
            await exporter.wait_ready(within=60)
            yield exporter, proxy


async def _namespace(cp: ControlPlane, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    await asyncio.to_thread(cp.request, "POST", "/api/v1/namespaces", body)


def test_paged_list_resume_bookmarks_and_restarts(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp, ns = control_plane, "jw-real-watch"

    async def body() -> None:
        await _namespace(cp, ns)
        await _create(cp, ns, [f"early-{i:03d}" for i in range(510)])  # two LIST pages of 500
        async with _serving(cp, tmp_path, ns) as (exporter, proxy):
            await _converged(cp, exporter, ns)
            assert _counter(exporter, "requests", "jobs", "list", "ok") >= 2
            # Bookmarks: the API server sends one about once a minute to a watch whose events
            # are all filtered out, once the Jobs' resourceVersion moved (here: Jobs created in
            # another namespace, which this namespaced watch never sees as events).
            await _namespace(cp, f"{ns}-other")
            events = exporter.state.telemetry.events
            async with asyncio.timeout(100):
                for i in itertools.count():
                    if events.value(("jobs", "BOOKMARK")) >= 1:
                        break
                    await _create(cp, f"{ns}-other", [f"elsewhere-{i}"])
                    await asyncio.sleep(5)
            await _converged(cp, exporter, ns)  # bookmarks changed nothing visible
            # Watch resume: the connection is cut; changes made meanwhile arrive on resume.
            proxy.cut()
            await _create(cp, ns, ["after-cut"])
            await _delete(cp, ns, ["early-000"])
            await _converged(cp, exporter, ns)
            assert _counter(exporter, "relists", "jobs") == 0
            # API-server restart: watches break; the informer resumes or relists after 410.
            await asyncio.to_thread(cp.restart_apiserver)
            await _create(cp, ns, ["after-apiserver"])
            await _delete(cp, ns, ["early-001"])
            await _converged(cp, exporter, ns)
            # etcd restart: the API server stays; its watches go on once etcd is back.
            await asyncio.to_thread(cp.restart_etcd, 1.0)
            await _create(cp, ns, ["after-etcd"])
            await _delete(cp, ns, ["early-002"])
            await _converged(cp, exporter, ns)
            probes: dict[str, int] = {}
            async with aiohttp.ClientSession() as session:
                for probe in ("readyz", "livez"):
                    async with session.get(f"{exporter.url}/{probe}") as r:
                        probes[probe] = r.status
            assert probes == {"readyz": 200, "livez": 200}

    asyncio.run(body())


@pytest.fixture(scope="module")
def compacting() -> Iterator[ControlPlane]:
    """A control plane that forgets history fast: no watch cache, etcd compaction every 2 s."""
    cp = ControlPlane(
        Options(etcd_compaction_interval="2s", watch_cache=False), bins=kube_binaries()
    )
    try:
        cp.start()
    except Exception as exc:
        unavailable(f"the compacting control plane did not start: {exc}")
    try:
        yield cp
    finally:
        cp.stop()


def test_410_after_compaction_and_same_name_recreates_while_disconnected(
    compacting: ControlPlane, tmp_path: Path
) -> None:
    cp, ns = compacting, "jw-real-410"

    async def body() -> None:
        await _namespace(cp, ns)
        names = [f"job-{i}" for i in range(6)]
        await _create(cp, ns, names)
        async with _serving(cp, tmp_path, ns) as (exporter, proxy):
            before = await _converged(cp, exporter, ns)
            proxy.refuse()  # disconnected: no watch, no list
            await _delete(cp, ns, names[:3])
            await asyncio.sleep(1.0)
            await _create(cp, ns, names[:3])  # same names, new uids
            await _create(cp, ns, ["new-while-away"])
            await asyncio.sleep(6.0)  # several compactions: the exporter's rv is gone
            proxy.restore()
            after = await _converged(cp, exporter, ns)
            assert all(after[n] != before[n] for n in names[:3])  # the new objects, not ghosts
            assert _counter(exporter, "relists", "jobs") >= 1  # it came back through a 410
            assert (
                _counter(exporter, "requests", "jobs", "watch", "expired")
                + _counter(exporter, "requests", "jobs", "list", "expired")
                >= 1
            )

    asyncio.run(body())
