"""Informers against the real SimServer over HTTP with the real kubernetes_asyncio client.

Every test asserts that the sink converges to the sim's truth ({uid: resourceVersion}), and that
the informer got there the way design principle 3 asks: list, watch from the resourceVersion
with bookmarks, relist only on 410.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from jobwatch.cluster import ClusterConfigError, connect, informers
from jobwatch.cluster import informer as informer_module
from jobwatch.settings import settings
from jobwatch_testbed.sim.patch import MERGE
from jobwatch_testbed.sim.store import JOBS, PODS

from .informer_helpers import add_jobs, add_pod, harness, open_watches, simple_job

pytestmark = pytest.mark.timeout(30)


async def test_initial_sync_follows_continue_across_pages(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "big", 1201)
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        assert h.telemetry.requests["jobs", "list", "ok"] == 3  # 500 + 500 + 201
        assert h.telemetry.syncs == [("jobs", None)]
        assert h.sink.replaced == [("jobs", None, 1201)]
        assert len(h.telemetry.heartbeats) >= 3


async def test_creates_patches_updates_and_deletes_converge(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 10)
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        add_jobs(h.sim, "ns", 3, prefix="late")
        h.sim.store.patch(
            JOBS, "ns", "job-0001", {"metadata": {"labels": {"x": "y"}}}, content_type=MERGE
        )
        h.sim.store.update(JOBS, "ns", "job-0002", lambda o: o["status"].update(active=1))
        h.sim.store.delete(JOBS, "ns", "job-0003")
        h.sim.store.delete(JOBS, "ns", "late-0000")
        await h.converge("jobs")
        assert h.telemetry.events["jobs", "ADDED"] == 3
        assert h.telemetry.events["jobs", "DELETED"] == 2
        assert h.telemetry.events["jobs", "MODIFIED"] >= 2
        assert h.telemetry.relists["jobs"] == 0
        assert h.telemetry.syncs == [("jobs", None)]


async def test_deletes_while_disconnected_leave_no_ghosts_after_410_relist(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        jobs = add_jobs(h.sim, "ns", 20)
        pods = [add_pod(h.sim, job) for job in jobs]
        h.start(h.informer("pods", selector="batch.kubernetes.io/controller-uid"))
        await h.converge("pods")
        await h.watching()
        # No await in this block: the watch is cut before it can deliver the deletions,
        # and the history it would resume from is compacted away.
        gone = {p["metadata"]["uid"] for p in pods[:10]}
        for pod in pods[:10]:
            h.sim.store.delete(PODS, "ns", pod["metadata"]["name"], grace_period_seconds=0)
            h.sim.store.update(
                PODS, "ns", pod["metadata"]["name"], lambda o: o["metadata"].pop("finalizers")
            )
        h.sim.faults.compact()
        assert h.sim.faults.drop_watches() == 1
        await h.converge("pods")
        assert not gone & h.sink.objects["pods"].keys()
        assert len(h.sink.objects["pods"]) == 10
        assert h.telemetry.relists["pods"] == 1
        assert h.telemetry.events["pods", "ERROR"] == 1
        assert h.telemetry.requests["pods", "watch", "expired"] == 1
        assert h.telemetry.syncs == [("pods", None)]  # synced reports the first list only


async def test_watch_410_after_compaction_relists(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 5)
        h.start(h.informer("jobs", scope="ns"))
        await h.converge("jobs")
        await h.watching()
        add_jobs(h.sim, "ns", 2, prefix="unseen")
        h.sim.faults.compact()
        h.sim.faults.drop_watches()
        await h.converge("jobs")
        assert h.telemetry.relists["jobs"] == 1
        assert h.telemetry.requests["jobs", "list", "ok"] == 2


async def test_expired_continue_token_restarts_the_list(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 7)
        compacted: list[bool] = []

        def compact_after_first_page(resource: str, verb: str, result: str) -> None:
            if verb == "list" and result == "ok" and not compacted:
                compacted.append(True)  # between page 1 and page 2
                h.sim.store.create(JOBS, simple_job("ns", "between-pages"))
                h.sim.faults.compact()

        h.telemetry.on_request = compact_after_first_page
        h.start(h.informer("jobs", page_size=2))
        await h.converge("jobs")
        assert h.telemetry.requests["jobs", "list", "expired"] == 1
        assert h.telemetry.relists["jobs"] == 1
        assert h.telemetry.requests["jobs", "list", "ok"] == 1 + 4  # 8 jobs in pages of 2
        assert h.sink.replaced == [("jobs", None, 8)]
        assert h.telemetry.syncs == [("jobs", None)]


async def test_bookmark_moves_the_resume_point_without_relist(tmp_path: Path) -> None:
    async with harness(tmp_path, bookmark_period=0.1) as h:
        add_jobs(h.sim, "ns", 3)
        informer = h.informer("jobs")
        h.start(informer)
        await h.converge("jobs")
        listed_rv = informer.resource_version
        # Pod changes move the global rv; only a bookmark tells the jobs informer.
        jobs = add_jobs(h.sim, "other", 2, prefix="owner")
        h.sim.store.delete(JOBS, "other", jobs[0]["metadata"]["name"])
        add_pod(h.sim, jobs[1])
        await h.converge("jobs")
        target = str(h.sim.store.resource_version)
        await h.until(lambda: informer.resource_version == target)
        assert listed_rv != target
        assert h.telemetry.events["jobs", "BOOKMARK"] >= 1
        await h.watching()
        h.sim.faults.compact()  # anything older than the bookmark is now 410
        h.sim.faults.drop_watches()
        add_jobs(h.sim, "ns", 2, prefix="after")
        await h.converge("jobs")
        assert h.telemetry.relists["jobs"] == 0
        assert h.telemetry.requests["jobs", "list", "ok"] == 1


async def test_server_timeout_resumes_without_relist(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 3)
        h.start(h.informer("jobs", watch_timeout=(1, 1)))
        await h.converge("jobs")
        await h.until(lambda: h.telemetry.requests["jobs", "watch", "ok"] >= 2, within=5)
        add_jobs(h.sim, "ns", 2, prefix="later")
        await h.converge("jobs")
        assert h.telemetry.relists["jobs"] == 0
        assert h.telemetry.requests["jobs", "list", "ok"] == 1
        assert h.telemetry.requests["jobs", "watch", "error"] == 0


async def test_dropped_connection_resumes_from_last_rv(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 3)
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        for round_ in range(3):
            await h.watching()
            assert h.sim.faults.drop_watches() == 1
            add_jobs(h.sim, "ns", 2, prefix=f"round{round_}")
            await h.converge("jobs")
        assert h.telemetry.requests["jobs", "watch", "error"] == 3
        assert h.telemetry.relists["jobs"] == 0
        assert h.telemetry.requests["jobs", "list", "ok"] == 1


async def test_blackholed_watch_is_noticed_by_the_read_timeout(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 3)
        h.start(h.informer("jobs", idle_timeout=0.3))
        await h.converge("jobs")
        await h.watching()
        h.sim.faults.blackhole()
        add_jobs(h.sim, "ns", 2, prefix="dark")
        # The open stream sends nothing; only a reconnect (which replays the backlog from
        # the last rv before going silent again) can deliver these.
        await h.converge("jobs")
        assert h.telemetry.requests["jobs", "watch", "error"] >= 1
        h.sim.faults.clear()
        add_jobs(h.sim, "ns", 2, prefix="light")
        await h.converge("jobs")
        assert h.telemetry.relists["jobs"] == 0
        assert h.telemetry.requests["jobs", "list", "ok"] == 1


async def test_5xx_is_retried_with_backoff(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 3)
        h.sim.faults.fail_next(3, code=500)
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        assert h.telemetry.requests["jobs", "list", "error"] == 3
        await h.watching()
        h.sim.faults.fail_next(2, code=503)
        assert h.sim.faults.drop_watches() == 1
        add_jobs(h.sim, "ns", 2, prefix="after")
        await h.converge("jobs")
        # The drop, then two refused watch requests; no relist.
        assert h.telemetry.requests["jobs", "watch", "error"] == 3
        assert h.telemetry.relists["jobs"] == 0


async def test_429_waits_for_retry_after(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 3)
        h.sim.faults.throttle_next(2, retry_after=1)
        started = time.monotonic()
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        assert time.monotonic() - started >= 1.9  # two Retry-After: 1, not the 50 ms backoff
        assert h.telemetry.requests["jobs", "list", "throttled"] == 2
        assert h.telemetry.requests["jobs", "list", "ok"] == 1


async def test_namespaces_and_selectors_only_let_matching_objects_through(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        conf = h.settings(
            namespaces=("a", "b"),
            job_selector="team=data",
            watch_idle_timeout=5.0,
            watch_cronjobs=False,
        )
        for ns in ("a", "b", "c"):
            data = h.sim.store.create(JOBS, simple_job(ns, "data", {"team": "data"}))
            h.sim.store.create(JOBS, simple_job(ns, "web", {"team": "web"}))
            add_pod(h.sim, data)
            h.sim.store.create(PODS, {"metadata": {"name": "loose", "namespace": ns}, "spec": {}})
        made = informers(h.api, conf, h.sink, h.telemetry)
        assert sorted((i.resource, i.scope, i.label_selector) for i in made) == [
            ("jobs", "a", "team=data"),
            ("jobs", "b", "team=data"),
            ("pods", "a", "batch.kubernetes.io/controller-uid"),
            ("pods", "b", "batch.kubernetes.io/controller-uid"),
        ]
        h.start(*made)
        jobs = await h.converge("jobs", ("a", "b"), "team=data")
        pods = await h.converge("pods", ("a", "b"), "batch.kubernetes.io/controller-uid")
        assert len(jobs) == 2
        assert len(pods) == 2
        # Label changes are selector transitions: leaving the selector is a DELETED.
        h.sim.store.patch(
            JOBS, "a", "web", {"metadata": {"labels": {"team": "data"}}}, content_type=MERGE
        )
        h.sim.store.patch(
            JOBS, "b", "data", {"metadata": {"labels": {"team": "web"}}}, content_type=MERGE
        )
        h.sim.store.create(JOBS, simple_job("c", "data2", {"team": "data"}))
        jobs = await h.converge("jobs", ("a", "b"), "team=data")
        assert {h.sink.objects["jobs"][u]["metadata"]["name"] for u in jobs} == {"data", "web"}
        assert sorted(h.telemetry.syncs) == sorted((i.resource, i.scope) for i in made)


async def test_cluster_wide_when_no_namespaces(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        made = informers(h.api, h.settings(), h.sink, h.telemetry)
        assert sorted((i.resource, i.scope, i.label_selector) for i in made) == [
            ("cronjobs", None, ""),
            ("jobs", None, ""),
            ("pods", None, "batch.kubernetes.io/controller-uid"),
        ]
        unwatched = informers(h.api, h.settings(watch_cronjobs=False), h.sink, h.telemetry)
        assert [i.resource for i in unwatched] == ["jobs", "pods"]


async def test_cancel_closes_the_watch_connection(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_jobs(h.sim, "ns", 2)
        h.start(h.informer("jobs"))
        await h.converge("jobs")
        await h.watching()
        await h.stop()
        # aiohttp servers notice a closed client on their next write: give them one.
        add_jobs(h.sim, "ns", 1, prefix="after")
        await h.until(lambda: open_watches(h.sim) == 0, within=2)


async def test_lines_that_are_not_json_are_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobwatch.cluster"):
        async with harness(tmp_path) as h:
            informer = h.informer("jobs")
            informer._handle_line(b"{not json")
            informer._handle_line(b'"a string"')
            informer._handle_line(b'{"type": "ADDED", "object": {"spec": {}}}')
            informer._handle_line(
                b'{"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "42"}}}'
            )
            assert h.sink.malformed == 1  # metadata-less objects are the sink's problem
            assert h.telemetry.events["jobs", "BOOKMARK"] == 1
            assert h.telemetry.parse_errors["jobs"] == 2
    assert informer.resource_version == "42"
    # Both bad lines are counted; only the first is logged within the rate-limit window.
    assert sum("skipped a watch line" in r.message for r in caplog.records) == 1
    assert sum("not JSON" in r.message for r in caplog.records) == 1


# ---------------------------------------------------------------------------- connect


async def test_connect_loads_the_kubeconfig_and_context(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        conf = settings(kubeconfig=str(h.kubeconfig), context="jobwatch-sim")
        async with connect(conf) as api:
            assert api.configuration.host == h.sim.url


async def test_connect_uses_KUBECONFIG_when_no_file_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness(tmp_path) as h:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{h.kubeconfig}")
        async with connect(settings()) as api:
            assert api.configuration.host == h.sim.url


@pytest.mark.parametrize(
    ("kubeconfig", "context", "message"),
    [
        pytest.param("missing", "", "kubeconfig {dir}/missing: no such file", id="missing-file"),
        pytest.param("good", "foo", "context foo not in kubeconfig {dir}/good", id="unknown-ctx"),
        pytest.param("bad", "", "kubeconfig {dir}/bad: not a kubeconfig mapping", id="not-yaml"),
    ],
)
async def test_connect_errors_are_one_line(
    tmp_path: Path, kubeconfig: str, context: str, message: str
) -> None:
    (tmp_path / "good").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n"
        "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: x}]\n"
    )
    (tmp_path / "bad").write_text("just text\n")
    with pytest.raises(ClusterConfigError) as info:
        async with connect(settings(kubeconfig=str(tmp_path / kubeconfig), context=context)):
            pass
    assert str(info.value) == message.format(dir=tmp_path)


async def test_connect_in_cluster_without_service_account_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(ClusterConfigError) as info:
        async with connect(settings()):
            pass
    assert str(info.value).startswith("in-cluster config: ")
    assert "\n" not in str(info.value)


async def test_unknown_resource_is_refused(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        with pytest.raises(ValueError, match="unsupported resource"):
            h.informer("deployments")  # type: ignore[arg-type]  # refused at run time
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        pytest.param(410, informer_module._Expired, id="410-relist"),
        pytest.param(500, informer_module._Retry, id="500-resume"),
    ],
)
async def test_watch_error_events_relist_only_on_410(
    tmp_path: Path, code: int, raised: type
) -> None:
    async with harness(tmp_path) as h:
        informer = h.informer("jobs")
        line = b'{"type": "ERROR", "object": {"kind": "Status", "code": %d}}' % code
        with pytest.raises(raised):
            informer._handle_line(line)
        assert h.telemetry.events["jobs", "ERROR"] == 1
        assert not h.sink.applied
