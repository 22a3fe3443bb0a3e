"""Cluster scale: paged LISTs, the renderer off the scrape path, cached gzip, and sharding."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections import Counter
from typing import Any

import pytest

from jobwatch import metrics as m
from jobwatch.body import ChunkedFamilies, Exposition, Segment, combined_crc
from jobwatch.metrics import JOB_FAMILIES
from jobwatch.model import JOBS, PODS
from jobwatch.settings import SettingsError, from_args
from jobwatch.sharding import Shard
from jobwatch.state import ExporterState
from tests.exporter import scenarios
from tests.exporter.test_state import Clock, text

Obj = dict[str, Any]
Run = tuple[Obj, list[Obj]]
COUNTERS = (m.JOB_FAILURES_TOTAL.name, m.CONTAINER_FAILURES_TOTAL.name)


def _runs() -> list[Run]:
    """Every fixture, plus four CronJobs of three runs each (distinct CronJob UIDs)."""
    runs = [scenarios.fixture_pair(f.stem) for f in sorted(scenarios.FIXTURES.glob("*.json"))]
    for c in range(4):
        for n in range(3):
            job, pods = scenarios.cron_run(
                f"cron{c}", n, ok=n != 1, start=scenarios.NOW - 3000 + 100 * n
            )
            job["metadata"]["ownerReferences"][0]["uid"] = f"cron{c}-uid"
            runs.append((job, pods))
    return runs


def _feed(state: ExporterState, runs: list[Run], pods_first: bool) -> None:
    for job, pods in runs:
        if pods_first:  # separate watches: a pod may arrive before its Job
            for pod in pods:
                state.apply("pods", "ADDED", pod)
        state.apply("jobs", "ADDED", job)
        for pod in pods if not pods_first else ():
            state.apply("pods", "ADDED", pod)


def _split(body: str) -> tuple[set[str], Counter[str]]:
    """(Job and CronJob sample lines, counter values by series) of a text body."""
    lines, counters = set(), Counter[str]()
    for line in body.splitlines():
        if line.startswith(("jobwatch_job_", "jobwatch_cronjob_")):
            series, value = line.rsplit(" ", 1)
            if series.startswith(COUNTERS):
                counters[series] += int(float(value))
            else:
                lines.add(line)
    return lines, counters


@pytest.mark.parametrize("total", [2, 3, 5])
def test_shards_together_export_exactly_what_one_instance_exports(total: int) -> None:
    runs = _runs()
    one = ExporterState(clock=Clock())
    _feed(one, runs, pods_first=False)
    whole, whole_counters = _split(text(one))
    union: list[str] = []
    summed = Counter[str]()
    for index in range(total):
        shard = ExporterState(clock=Clock(), shard=Shard(index, total))
        _feed(shard, runs, pods_first=index % 2 == 0)
        lines, counters = _split(text(shard))
        union.extend(lines)
        summed.update(counters)
    assert len(union) == len(set(union))  # no series on two shards
    assert set(union) == whole
    assert summed == whole_counters
    assert len(whole) > 100


def test_a_cronjobs_jobs_and_series_all_belong_to_the_cronjobs_shard() -> None:
    runs = [r for r in _runs() if r[0]["metadata"].get("ownerReferences")]
    states = [ExporterState(clock=Clock(), shard=Shard(i, 2)) for i in range(2)]
    for state in states:
        _feed(state, runs, pods_first=False)
        cronjob_obj = {"metadata": {"namespace": "default", "name": "cron0", "uid": "cron0-uid"}}
        state.replace("cronjobs", None, [cronjob_obj])
    owners = [s for s in states if 'cronjob="cron0"' in text(s)]
    assert len(owners) == 1
    assert "jobwatch_cronjob_last_run_state" in text(owners[0])
    assert 'cronjob="cron0"' in text(owners[0])


def test_a_foreign_jobs_pods_are_dropped_even_when_they_came_first() -> None:
    runs = _runs()
    for index in range(2):
        state = ExporterState(clock=Clock(), shard=Shard(index, 2))
        _feed(state, runs, pods_first=True)
        kept_jobs = {r.uid for r in state.reports().values()}
        assert all(p.job_uid in kept_jobs for p in state.store.pods.values())


def test_shard_flags_are_checked() -> None:
    import argparse

    from jobwatch.settings import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ok = from_args(parser.parse_args(["--shard", "2", "--total-shards", "3"]), environ={})
    assert (ok.shard, ok.total_shards) == (2, 3)
    with pytest.raises(SettingsError, match="--total-shards"):
        from_args(parser.parse_args(["--shard", "3", "--total-shards", "3"]), environ={})
    with pytest.raises(SettingsError, match="--total-shards: must be 1 or more"):
        from_args(parser.parse_args(["--total-shards", "0"]), environ={})


def test_a_paged_list_has_replace_semantics_without_holding_the_list() -> None:
    runs = _runs()
    state = ExporterState(clock=Clock())
    _feed(state, runs, pods_first=False)
    kept = runs[::2]
    for resource, index in ((JOBS, 0), (PODS, 1)):
        state.list_started(resource, None)
        objects = [o for r in kept for o in ([r[0]] if index == 0 else r[1])]
        for start in range(0, len(objects), 3):
            state.list_page(resource, None, objects[start : start + 3])
        state.list_done(resource, None)
    fresh = ExporterState(clock=Clock())
    _feed(fresh, kept, pods_first=False)
    jobs = {line for line in _split(text(state))[0] if line.startswith("jobwatch_job_")}
    assert jobs == {line for line in _split(text(fresh))[0] if line.startswith("jobwatch_job_")}
    assert len(state.reports()) == len(kept)


def _ready(state: ExporterState) -> bool:
    """Read afresh each time (mypy would narrow a property across the awaits in between)."""
    return state.ready


def test_the_renderer_publishes_changes_and_a_scrape_never_analyses() -> None:
    clock = Clock()
    state = ExporterState(clock=clock)
    state.telemetry.expect("jobs", None)
    runs = _runs()

    async def body() -> None:
        renderer = asyncio.create_task(state.render_forever(debounce=0.01))
        try:
            _feed(state, runs[:5], pods_first=False)
            state.telemetry.synced("jobs", None)  # listed: ready once the body shows it
            assert state.telemetry.ready
            assert not _ready(state)  # the renderer has not published the baseline yet
            for _ in range(200):
                if _ready(state):
                    break
                await asyncio.sleep(0.01)
            assert _ready(state)
            first = state.latest(False).joined().decode()  # before text() analyses anything
            assert _split(first) == _split(text(state))
            _feed(state, runs[5:9], pods_first=False)
            clock.now += 7
            assert state.unrendered_age == 7
            analysed = state.analysed
            served = state.latest(False).joined()
            assert state.analysed == analysed  # the scrape did not analyse
            assert b"jobwatch_exporter_unrendered_change_age_seconds 7\n" in served
            assert runs[6][0]["metadata"]["name"].encode() not in served
            for _ in range(200):
                if state.unrendered_age == 0:
                    break
                await asyncio.sleep(0.01)
            assert state.analysed > analysed
            served = state.latest(False).joined()
            assert b"jobwatch_exporter_unrendered_change_age_seconds 0\n" in served
            assert _split(served.decode()) == _split(text(state))
            gone = runs[6][0]
            state.apply("jobs", "DELETED", gone)  # a deletion alone wakes the renderer
            for _ in range(200):
                if gone["metadata"]["name"].encode() not in state.latest(False).joined():
                    break
                await asyncio.sleep(0.01)
            assert gone["metadata"]["name"].encode() not in state.latest(False).joined()
        finally:
            renderer.cancel()

    asyncio.run(body())


def test_gzip_of_cached_segments_is_one_valid_member() -> None:
    state = ExporterState(clock=Clock())
    _feed(state, _runs(), pods_first=False)
    reference = text(state)
    exposition = state.latest(False)
    assert exposition.joined().decode() == reference
    compressed = b"".join(exposition.gzip_parts())
    assert gzip.decompress(compressed).decode() == reference
    inflater = zlib.decompressobj(wbits=47)  # what aiohttp's client does: one member only
    assert inflater.decompress(compressed).decode() == reference
    assert inflater.eof
    assert not inflater.unused_data
    segments = tuple(Segment.of(b"a" * n) for n in (0, 1, 70_000))
    whole = Exposition(segments, *combined_crc(segments), b"t\n")
    assert gzip.decompress(b"".join(whole.gzip_parts())) == b"a" * 70_001 + b"t\n"


def test_a_change_rejoins_only_its_chunk() -> None:
    families = ChunkedFamilies(JOB_FAMILIES, chunk=4)
    name = JOB_FAMILIES[0].name
    for i in range(12):
        families.set(f"u{i}", {name: f"line {i}\n".encode()})
    families.join_stale()
    before = families.segments(False)  # the header, then three chunks
    families.set("u5", {name: b"line 5 changed\n"})
    assert families.stale == 1
    after = families.segments(False)
    assert [a is b for a, b in zip(before, after, strict=True)] == [
        True,
        True,
        False,
        True,
    ]
    families.set("u5", None)
    families.set("u12", {name: b"line 12\n"})  # fills the hole u5 left
    assert families.segments(False)[2].raw == b"line 4\nline 6\nline 7\nline 12\n"
