"""LIST pages, GETs and watch lines are served from bytes the store serialised at commit time:
they must say exactly what the objects say, also for snapshots rolled back through history."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from jobwatch_testbed.sim.load import LoadGenerator
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, PODS, Obj, Store, item_bytes

from .helpers import add_jobs, simple_job

pytestmark = pytest.mark.timeout(30)
URL = "/apis/batch/v1/namespaces/snap/jobs"


def _untyped(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


async def _get(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as response:
        assert response.status == 200, await response.text()
        return orjson.loads(await response.read())


def test_the_bytes_follow_every_write() -> None:
    store = Store()
    job = store.create(JOBS, simple_job("ns", "a"))
    store.update(JOBS, "ns", "a", lambda o: o["status"].update(active=3))
    store.patch(
        JOBS,
        "ns",
        "a",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    current = store.get(JOBS, "ns", "a")
    assert current is not job
    assert orjson.loads(store.data(JOBS, "ns", "a")) == _untyped(current)
    assert orjson.loads(JOBS.typed(store.data(JOBS, "ns", "a"))) == current
    events = store.history()
    assert [orjson.loads(e.data) for e in events] == [_untyped(e.object) for e in events]
    assert [e.old_data for e in events[1:]] == [e.data for e in events[:-1]]
    store.reset_resource_version(5)
    assert orjson.loads(store.data(JOBS, "ns", "a")) == _untyped(store.get(JOBS, "ns", "a"))


def test_cloned_objects_are_serialised_as_they_are_stored() -> None:
    gen = LoadGenerator(Store(), jobs=3, pods_per_job=2, events_per_second=1)
    gen.populate_cloned()
    view = gen.store.current(PODS)
    assert len(view.items) == 6
    assert [orjson.loads(d) for d in view.data] == [_untyped(o) for o in view.items]
    assert view.data == [item_bytes(o) for o in view.items]


async def test_paged_list_serves_the_snapshot_through_modifications_and_deletes() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        add_jobs(sim, "snap", 6)
        before = {o["metadata"]["name"]: _untyped(o) for o in sim.store.list(JOBS, "snap")[0]}
        first = await _get(session, sim.url + URL, limit="2")
        # After the snapshot: one later page's object changes, one goes, one is added.
        sim.store.update(JOBS, "snap", "job-003", lambda o: o["status"].update(active=9))
        sim.store.delete(JOBS, "snap", "job-004")
        sim.store.create(JOBS, simple_job("snap", "job-0035"))
        items, page = list(first["items"]), first
        while page["metadata"].get("continue"):
            page = await _get(
                session, sim.url + URL, limit="2", **{"continue": page["metadata"]["continue"]}
            )
            assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
            items += page["items"]
        assert {o["metadata"]["name"]: o for o in items} == before
        assert [o["metadata"]["name"] for o in items] == sorted(before)
        now = await _get(session, sim.url + URL)
        names = [o["metadata"]["name"] for o in now["items"]]
        assert names == ["job-000", "job-001", "job-002", "job-003", "job-0035", "job-005"]
        assert now["items"][3]["status"]["active"] == 9
        got = await _get(session, sim.url + URL + "/job-003")
        assert got == sim.store.get(JOBS, "snap", "job-003")


async def test_watch_lines_carry_the_typed_object() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        add_jobs(sim, "snap", 2)
        rv = sim.store.resource_version
        sim.store.update(JOBS, "snap", "job-001", lambda o: o["status"].update(active=2))
        params = {"watch": "1", "resourceVersion": str(rv), "timeoutSeconds": "1"}
        async with session.get(sim.url + URL, params=params) as response:
            lines = [orjson.loads(line) async for line in response.content]
        assert lines == [{"type": "MODIFIED", "object": sim.store.get(JOBS, "snap", "job-001")}]
        async with session.get(sim.url + URL, params={"watch": "1", "timeoutSeconds": "1"}) as r:
            initial = [orjson.loads(line) async for line in r.content]
        assert initial == [{"type": "ADDED", "object": o} for o in sim.store.list(JOBS, "snap")[0]]
