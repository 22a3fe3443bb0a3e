"""A list+watch client following every scenario over HTTP ends with exactly the store's state."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from jobwatch_testbed.sim.player import ScenarioPlayer
from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import RESOURCES, Resource

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)


async def _informer(
    session: aiohttp.ClientSession, sim: SimServer, resource: Resource, state: dict[str, Any]
) -> None:
    base = "/api/v1" if not resource.group else f"/apis/{resource.api_version}"
    url = f"{sim.url}{base}/{resource.plural}"
    async with session.get(url, params={"limit": "7"}) as resp:
        page = await resp.json()
    items = page["items"]
    rv = page["metadata"]["resourceVersion"]
    while page["metadata"].get("continue"):
        params = {"limit": "7", "continue": page["metadata"]["continue"]}
        async with session.get(url, params=params) as resp:
            page = await resp.json()
        items += page["items"]
    objects = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in items}
    state["objects"], state["rv"] = objects, int(rv)
    params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"}
    async with session.get(url, params=params) as resp:
        async for line in resp.content:
            event = orjson.loads(line)
            obj = event["object"]
            state["rv"] = int(obj["metadata"]["resourceVersion"])
            if event["type"] == "BOOKMARK":
                continue
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            if event["type"] == "DELETED":
                objects.pop(key, None)
            else:
                objects[key] = obj


async def test_watchers_reconstruct_the_store_exactly() -> None:
    async with SimServer(bookmark_period=0.05) as sim, aiohttp.ClientSession() as session:
        states: dict[str, dict[str, Any]] = {p: {} for p in RESOURCES}
        tasks = [
            asyncio.create_task(_informer(session, sim, r, states[p])) for p, r in RESOURCES.items()
        ]
        await ScenarioPlayer(sim.store, speed=1000).run(until_settled=True)
        final_rv = sim.store.resource_version
        for _ in range(200):  # bookmarks every 0.05 s bring every watcher to final_rv
            if all(s.get("rv", 0) >= final_rv for s in states.values()):
                break
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        for plural, resource in RESOURCES.items():
            items, _ = sim.store.list(resource)
            expected = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in items}
            seen = states[plural]["objects"]
            assert sorted(seen) == sorted(expected), plural
            for key, obj in expected.items():
                assert seen[key]["metadata"] == obj["metadata"], key
                assert seen[key].get("status") == obj.get("status"), key
