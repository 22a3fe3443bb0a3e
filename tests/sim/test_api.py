"""The sim API server through the real kubernetes_asyncio client over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from jobwatch_testbed.sim.server import SimServer
from jobwatch_testbed.sim.store import JOBS, PODS

from .helpers import add_jobs, api, error_body, raw, simple_job

# Each test is bounded: a hung watch fails it instead of the whole run.
pytestmark = pytest.mark.timeout(30)


async def test_paged_list_with_limit_and_continue() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "paging", 7)
        batch = client.BatchV1Api(c)
        first = await batch.list_namespaced_job("paging", limit=3)
        names = [j.metadata.name for j in first.items]
        snapshot_rv = first.metadata.resource_version
        # Changes after the first page must not show in later pages (rv snapshot).
        sim.store.create(JOBS, simple_job("paging", "job-zzz-late"))
        token = first.metadata._continue
        while token:
            page = await batch.list_namespaced_job("paging", limit=3, _continue=token)
            assert page.metadata.resource_version == snapshot_rv
            names += [j.metadata.name for j in page.items]
            token = page.metadata._continue
        assert names == [f"job-{i:03d}" for i in range(7)]
        assert first.metadata.remaining_item_count == 4
        everything = await batch.list_job_for_all_namespaces()
        assert len(everything.items) == 8
        assert everything.kind == "JobList"


async def test_continue_after_compaction_is_410_expired() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "compact", 4)
        batch = client.BatchV1Api(c)
        first = await batch.list_namespaced_job("compact", limit=2)
        sim.store.create(JOBS, simple_job("compact", "newer"))
        sim.faults.compact()
        with pytest.raises(ApiException) as info:
            await batch.list_namespaced_job("compact", limit=2, _continue=first.metadata._continue)
        assert info.value.status == 410
        assert '"reason":"Expired"' in error_body(info.value).replace(" ", "")
        assert "The provided continue parameter is too old" in error_body(info.value)


async def _collect(stream: Any, count: int) -> list[dict[str, Any]]:
    events = []
    async for event in stream:
        events.append(event)
        if len(events) == count:
            break
    return events


async def test_watch_resume_delivers_exactly_later_events() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "resume", 2)
        batch = client.BatchV1Api(c)
        listed = await batch.list_namespaced_job("resume")
        rv = listed.metadata.resource_version
        sim.store.update(JOBS, "resume", "job-000", lambda o: o["status"].update(active=1))
        sim.store.create(JOBS, simple_job("resume", "job-new"))
        sim.store.delete(JOBS, "resume", "job-001")
        w = watch.Watch()
        events = await _collect(
            w.stream(batch.list_namespaced_job, "resume", resource_version=rv), 3
        )
        await w.close()
        assert [(e["type"], e["object"].metadata.name) for e in events] == [
            ("MODIFIED", "job-000"),
            ("ADDED", "job-new"),
            ("DELETED", "job-001"),
        ]
        rvs = [int(e["object"].metadata.resource_version) for e in events]
        assert rvs == sorted(rvs)
        assert rvs[0] == int(rv) + 1


async def test_watch_without_rv_starts_with_synthetic_added() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "initial", 2)
        batch = client.BatchV1Api(c)
        w = watch.Watch()
        stream = w.stream(batch.list_namespaced_job, "initial", timeout_seconds=5)
        events = await _collect(stream, 2)
        await w.close()
        assert [e["type"] for e in events] == ["ADDED", "ADDED"]


async def test_watch_bookmarks() -> None:
    async with SimServer(bookmark_period=0.1) as sim, api(sim) as c:
        add_jobs(sim, "bm", 1)
        core = client.CoreV1Api(c)
        listed = await core.list_namespaced_pod("bm")
        w = watch.Watch()
        stream = w.stream(
            core.list_namespaced_pod,
            "bm",
            resource_version=listed.metadata.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
        )
        events = await _collect(stream, 2)
        await w.close()
        assert [e["type"] for e in events] == ["BOOKMARK", "BOOKMARK"]
        raw = events[0]["raw_object"]
        assert raw["kind"] == "Pod"
        assert raw["apiVersion"] == "v1"
        assert raw["metadata"] == {"resourceVersion": str(sim.store.resource_version)}


async def test_watch_timeout_seconds_closes_cleanly() -> None:
    async with SimServer() as sim, api(sim) as c:
        batch = client.BatchV1Api(c)
        loop = asyncio.get_running_loop()
        started = loop.time()
        w = watch.Watch()
        events = [e async for e in w.stream(batch.list_job_for_all_namespaces, timeout_seconds=1)]
        await w.close()
        assert events == []
        assert 0.9 <= loop.time() - started < 3
        assert sim.store.resource_version > 0


async def test_watch_from_compacted_rv_gets_410_error_event() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "gone", 1)
        batch = client.BatchV1Api(c)
        listed = await batch.list_namespaced_job("gone")
        sim.store.create(JOBS, simple_job("gone", "later"))
        sim.faults.compact()
        w = watch.Watch()
        stream = w.stream(
            batch.list_namespaced_job,
            "gone",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=5,
        )
        with pytest.raises(ApiException) as info:
            await _collect(stream, 1)
        await w.close()
        assert info.value.status == 410
        assert (info.value.reason or "").startswith("Expired")


async def test_history_size_bounds_resume() -> None:
    async with SimServer(history_size=3) as sim:
        add_jobs(sim, "hist", 1)
        rv = sim.store.resource_version
        add_jobs(sim, "hist2", 4)
        url = f"{sim.url}/apis/batch/v1/jobs?watch=1&resourceVersion={rv}"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            line = await resp.content.readline()
        assert b'"type":"ERROR"' in line
        assert b'"code":410' in line


def _labelled(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return simple_job("sel", name, labels)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=batch", ["a", "b"]),
        ("tier==batch,team=x", ["a"]),
        ("tier!=batch", ["c", "d"]),
        ("team", ["a", "c"]),
        ("!team", ["b", "d"]),
        ("tier in (batch, web)", ["a", "b", "c"]),
        ("tier notin (batch)", ["c", "d"]),
        ("team,tier in (web)", ["c"]),
    ],
    ids=["eq", "eq-and", "neq", "exists", "not-exists", "in", "notin", "exists-and-in"],
)
async def test_label_selectors(selector: str, expected: list[str]) -> None:
    async with SimServer() as sim, api(sim) as c:
        for name, labels in [
            ("a", {"tier": "batch", "team": "x"}),
            ("b", {"tier": "batch"}),
            ("c", {"tier": "web", "team": "y"}),
            ("d", {"other": "z"}),
        ]:
            sim.store.create(JOBS, _labelled(name, labels))
        batch = client.BatchV1Api(c)
        result = await batch.list_namespaced_job("sel", label_selector=selector)
        assert [j.metadata.name for j in result.items] == expected


async def test_field_selector_and_bad_selector() -> None:
    async with SimServer() as sim, api(sim) as c:
        add_jobs(sim, "fs", 3)
        batch = client.BatchV1Api(c)
        result = await batch.list_job_for_all_namespaces(field_selector="metadata.name=job-001")
        assert [j.metadata.name for j in result.items] == ["job-001"]
        with pytest.raises(ApiException) as info:
            await batch.list_namespaced_job("fs", label_selector="a in (b")
        assert info.value.status == 400


async def test_watch_selector_transitions() -> None:
    async with SimServer() as sim, api(sim) as c:
        sim.store.create(JOBS, _labelled("moving", {"keep": "yes"}))
        batch = client.BatchV1Api(c)
        listed = await batch.list_namespaced_job("sel", label_selector="keep=yes")
        rv = listed.metadata.resource_version

        def relabel(value: str) -> None:
            sim.store.update(
                JOBS, "sel", "moving", lambda o: o["metadata"]["labels"].update(keep=value)
            )

        relabel("no")
        relabel("yes")
        w = watch.Watch()
        stream = w.stream(
            batch.list_namespaced_job, "sel", label_selector="keep=yes", resource_version=rv
        )
        events = await _collect(stream, 2)
        await w.close()
        assert [e["type"] for e in events] == ["DELETED", "ADDED"]
        assert events[0]["raw_object"]["metadata"]["labels"]["keep"] == "yes"


async def test_create_get_patch_and_errors() -> None:
    async with SimServer() as sim, api(sim) as c:
        batch = client.BatchV1Api(c)
        created = await batch.create_namespaced_job("crud", raw(simple_job("crud", "one")))
        meta = created.metadata
        assert meta.uid
        assert meta.generation == 1
        assert meta.creation_timestamp
        assert created.spec.backoff_limit == 6
        assert created.spec.selector.match_labels == {
            "batch.kubernetes.io/controller-uid": meta.uid
        }
        with pytest.raises(ApiException) as exists:
            await batch.create_namespaced_job("crud", raw(simple_job("crud", "one")))
        assert exists.value.status == 409
        nameless = simple_job("crud", "x")
        del nameless["metadata"]["name"]
        with pytest.raises(ApiException) as unnamed:
            await batch.create_namespaced_job("crud", raw(nameless))
        assert unnamed.value.status == 422
        always = simple_job("crud", "forever")
        always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
        with pytest.raises(ApiException) as rejected:  # docs/job-semantics.md §1.17
            await batch.create_namespaced_job("crud", raw(always))
        assert rejected.value.status == 422
        message = json.loads(error_body(rejected.value))["message"]
        assert message == (
            'Job.batch "forever" is invalid: spec.template.spec.restartPolicy: '
            'Required value: valid values: "OnFailure", "Never"'
        )
        with pytest.raises(ApiException) as missing:
            await batch.read_namespaced_job("nope", "crud")
        assert missing.value.status == 404
        patched = await batch.patch_namespaced_job(
            "one", "crud", {"metadata": {"labels": {"extra": "1"}}, "spec": {"suspend": True}}
        )
        assert patched.metadata.labels["extra"] == "1"
        assert patched.metadata.generation == 2
        assert int(patched.metadata.resource_version) > int(meta.resource_version)
        status = await batch.patch_namespaced_job_status(
            "one", "crud", [{"op": "add", "path": "/status/active", "value": 1}]
        )
        assert status.status.active == 1
        assert status.metadata.generation == 2
        current = await batch.read_namespaced_job_status("one", "crud")
        current.status.failed = 2
        replaced = await batch.replace_namespaced_job_status("one", "crud", current)
        assert replaced.status.failed == 2


async def test_delete_with_finalizers() -> None:
    async with SimServer() as sim, api(sim) as c:
        core = client.CoreV1Api(c)
        pod = {
            "metadata": {"name": "p", "finalizers": ["batch.kubernetes.io/job-tracking"]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        created = await core.create_namespaced_pod("fin", raw(pod))
        w = watch.Watch()
        stream = w.stream(
            core.list_namespaced_pod, "fin", resource_version=created.metadata.resource_version
        )
        await core.delete_namespaced_pod("p", "fin", grace_period_seconds=5)
        still = await core.read_namespaced_pod("p", "fin")
        assert still.metadata.deletion_timestamp is not None
        # An unscheduled pod gets no grace period (pod strategy CheckGracefulDelete, v1.37.2).
        assert still.metadata.deletion_grace_period_seconds == 0
        await core.patch_namespaced_pod(
            "p", "fin", [{"op": "remove", "path": "/metadata/finalizers/0"}]
        )
        events = await _collect(stream, 2)
        await w.close()
        assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
        assert events[0]["object"].metadata.deletion_timestamp is not None
        with pytest.raises(ApiException) as gone:
            await core.read_namespaced_pod("p", "fin")
        assert gone.value.status == 404
        assert sim.store.try_get(PODS, "fin", "p") is None


async def test_delete_job_cascades_to_pods() -> None:
    async with SimServer() as sim, api(sim) as c:
        job = sim.store.create(JOBS, simple_job("gc", "owner"))
        ref = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "owner",
            "uid": job["metadata"]["uid"],
            "controller": True,
        }
        for name in ("p1", "p2"):
            sim.store.create(
                PODS,
                {
                    "metadata": {
                        "name": name,
                        "namespace": "gc",
                        "ownerReferences": [ref],
                        "finalizers": ["batch.kubernetes.io/job-tracking"],
                    },
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            )
        batch = client.BatchV1Api(c)
        await batch.delete_namespaced_job("owner", "gc", propagation_policy="Background")
        items, _ = sim.store.list(PODS, "gc")
        assert items == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/merge-patch+json", {"metadata": {"labels": {"team": "x", "drop": None}}}),
        (
            "application/strategic-merge-patch+json",
            {"metadata": {"labels": {"team": "x", "drop": None}}},
        ),
        (
            "application/json-patch+json",
            [
                {"op": "add", "path": "/metadata/labels/team", "value": "x"},
                {"op": "remove", "path": "/metadata/labels/drop"},
            ],
        ),
    ],
    ids=["merge", "strategic", "json"],
)
async def test_patch_content_types(content_type: str, body: Any) -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        sim.store.create(JOBS, simple_job("p", "j", {"drop": "me"}))
        url = f"{sim.url}/apis/batch/v1/namespaces/p/jobs/j"
        headers = {"Content-Type": content_type}
        async with session.patch(url, data=json.dumps(body), headers=headers) as resp:
            assert resp.status == 200
            labels = (await resp.json())["metadata"]["labels"]
        assert labels == {"team": "x"}
        # Status is not changed through the main resource, only through /status.
        status_patch = json.dumps({"status": {"active": 3}})
        merge = {"Content-Type": "application/merge-patch+json"}
        async with session.patch(url, data=status_patch, headers=merge) as resp:
            assert (await resp.json())["status"].get("active") is None
        async with session.patch(url + "/status", data=status_patch, headers=merge) as resp:
            assert (await resp.json())["status"]["active"] == 3
        async with session.patch(url, data="[{", headers=merge) as resp:
            assert resp.status == 400


@pytest.mark.parametrize(
    "query",
    ["limit=x", "watch=1&resourceVersion=abc", "watch=1&timeoutSeconds=soon", "continue=%%%"],
)
async def test_bad_query_parameters_are_400(query: str) -> None:
    async with SimServer() as sim, aiohttp.ClientSession() as session:
        resp = await session.get(f"{sim.url}/api/v1/pods?{query}")
        assert resp.status == 400
        assert (await resp.json())["reason"] == "BadRequest"
