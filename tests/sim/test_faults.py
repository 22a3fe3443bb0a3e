"""Every fault hook, observed on the wire (aiohttp or kubernetes_asyncio client)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS

from .helpers import add_jobs, api, error_body, simple_job

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)


def _watch_url(sim: SimServer, query: str = "") -> str:
    return f"{sim.url}/apis/batch/v1/namespaces/f/jobs?watch=1&{query}"


async def _line(resp: aiohttp.ClientResponse) -> dict[str, object]:
    raw = await asyncio.wait_for(resp.content.readline(), 2)
    assert raw, "stream ended"
    event: dict[str, object] = orjson.loads(raw)
    return event


async def _name(resp: aiohttp.ClientResponse) -> tuple[object, str]:
    event = await _line(resp)
    obj = event["object"]
    assert isinstance(obj, dict)
    return event["type"], obj["metadata"]["name"]


async def test_drop_watches_aborts_the_stream() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        rv = sim.store.resource_version
        async with session.get(_watch_url(sim, f"resourceVersion={rv}")) as resp:
            sim.store.create(JOBS, simple_job("f", "before"))
            assert await _name(resp) == ("ADDED", "before")
            assert sim.faults.drop_watches() == 1
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(resp.content.read(), 2)


async def test_blackhole_keeps_watch_open_and_silent_until_cleared() -> None:
    async with SimServer(bookmark_period=0.05) as sim, aiohttp.ClientSession() as session:
        rv = sim.store.resource_version
        query = f"resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1"
        async with session.get(_watch_url(sim, query)) as resp:
            assert (await _line(resp))["type"] == "BOOKMARK"
            sim.faults.blackhole()
            await asyncio.sleep(0.1)  # let the stream notice
            sim.store.create(JOBS, simple_job("f", "hidden"))
            # No event, no bookmark, and no close even past timeoutSeconds.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(resp.content.readline(), 1.3)
            sim.faults.clear()
            seen = []
            while True:
                event = await _line(resp)
                if event["type"] != "BOOKMARK":
                    seen.append(event["type"])
                    break
            assert seen == ["ADDED"]


async def test_blackhole_requests_stalls_lists() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        sim.faults.blackhole(watches=False, requests=True)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(session.get(f"{sim.url}/apis/batch/v1/jobs"), 0.3)
        sim.faults.clear()
        async with session.get(f"{sim.url}/apis/batch/v1/jobs") as resp:
            assert resp.status == 200


async def test_fail_next_returns_5xx_status_then_recovers() -> None:
    async with SimServer() as sim, api(sim) as c:
        batch = client.BatchV1Api(c)
        sim.faults.fail_next(2, code=503)
        for _ in range(2):
            with pytest.raises(ApiException) as info:
                await batch.list_job_for_all_namespaces()
            assert info.value.status == 503
            assert orjson.loads(error_body(info.value))["reason"] == "ServiceUnavailable"
        assert (await batch.list_job_for_all_namespaces()).kind == "JobList"


async def test_throttle_next_returns_429_with_retry_after() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        sim.faults.throttle_next(1, retry_after=3)
        async with session.get(f"{sim.url}/api/v1/pods") as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "3"
            status = await resp.json()
            assert (status["kind"], status["reason"], status["code"]) == (
                "Status",
                "TooManyRequests",
                429,
            )
        async with session.get(f"{sim.url}/api/v1/pods") as resp:
            assert resp.status == 200


async def test_delay_slows_every_response() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        sim.faults.delay(0.3)
        started = loop.time()
        async with session.get(f"{sim.url}/version") as resp:
            assert resp.status == 200
        assert loop.time() - started >= 0.3
        sim.faults.delay(0)
        started = loop.time()
        async with session.get(f"{sim.url}/version") as resp:
            assert resp.status == 200
        assert loop.time() - started < 0.3


async def test_duplicate_events() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        rv = sim.store.resource_version
        async with session.get(_watch_url(sim, f"resourceVersion={rv}")) as resp:
            sim.faults.duplicate_events(1)
            sim.store.create(JOBS, simple_job("f", "twice"))
            sim.store.create(JOBS, simple_job("f", "once"))
            names = [await _name(resp) for _ in range(3)]
            assert names == [("ADDED", "twice"), ("ADDED", "twice"), ("ADDED", "once")]


async def test_reorder_events() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        rv = sim.store.resource_version
        async with session.get(_watch_url(sim, f"resourceVersion={rv}")) as resp:
            sim.faults.reorder_events(1)
            for name in ("first", "second", "third"):
                sim.store.create(JOBS, simple_job("f", name))
            names = [(await _name(resp))[1] for _ in range(3)]
            assert names == ["second", "first", "third"]


async def test_compact_expires_old_resource_versions_for_watch() -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        rv = sim.store.resource_version
        sim.store.create(JOBS, simple_job("f", "x"))
        sim.faults.compact()
        async with session.get(_watch_url(sim, f"resourceVersion={rv}")) as resp:
            event = await _line(resp)
            assert event["type"] == "ERROR"
            status = event["object"]
            assert isinstance(status, dict)
            assert (status["code"], status["reason"]) == (410, "Expired")
            assert await resp.content.read() == b""  # then the stream ends


async def test_restart_resets_resource_version_and_forces_relist() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "f", 3)
        batch = client.BatchV1Api(c)
        before = await batch.list_namespaced_job("f")
        old_rv = int(before.metadata.resource_version)
        w = watch.Watch()
        stream = w.stream(batch.list_namespaced_job, "f", resource_version=str(old_rv))
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.1)
        sim.faults.restart(start_rv=1)
        with pytest.raises((aiohttp.ClientPayloadError, ApiException)):
            await asyncio.wait_for(pending, 2)
        await w.close()
        w2 = watch.Watch()
        stream = w2.stream(
            batch.list_namespaced_job, "f", resource_version=str(old_rv), timeout_seconds=2
        )
        with pytest.raises(ApiException) as info:
            await stream.__anext__()
        assert info.value.status == 410
        await w2.close()
        after = await batch.list_namespaced_job("f")
        assert int(after.metadata.resource_version) < old_rv
        assert [j.metadata.name for j in after.items] == [j.metadata.name for j in before.items]
        assert [j.metadata.uid for j in after.items] == [j.metadata.uid for j in before.items]


async def test_restart_can_replace_the_objects() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "f", 2)
        sim.faults.restart(start_rv=5, keep_objects=False)
        listed = await client.BatchV1Api(c).list_job_for_all_namespaces()
        assert listed.items == []
        assert listed.metadata.resource_version == "4"
