"""Bounded everything (issue 11 §5): index ranges never expanded, reasons from a vocabulary,
label values capped, counter series of namespaces without Jobs dropped after a retention."""

from __future__ import annotations

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from jobwatch import metrics
from jobwatch.analysis import analyse
from jobwatch.analysis.indexes import IndexSet, parse_index_set
from jobwatch.model import parse_job, parse_pod
from jobwatch.state import ExporterState
from tests.builders import T0_EPOCH, ctr, job, pod, terminated
from tests.exporter.test_state import Clock, load, text, value

intervals = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=12)


@given(intervals, st.lists(st.integers(0, 400), max_size=10))
def test_index_set_behaves_like_a_set(pairs: list[tuple[int, int]], extra: list[int]) -> None:
    spec = ",".join(f"{low}-{low + width}" if width else str(low) for low, width in pairs)
    expected = {i for low, width in pairs for i in range(low, low + width + 1)}
    parsed = parse_index_set(spec)
    assert len(parsed) == len(expected)
    assert all(i in parsed for i in expected)
    assert not any(i in parsed for i in range(450) if i not in expected)
    merged = parsed | extra
    assert len(merged) == len(expected | set(extra))
    assert merged.count_in(50, 200) == len({i for i in expected | set(extra) if 50 <= i < 200})


def test_malformed_parts_are_ignored() -> None:
    assert parse_index_set("1,x,3-,-4,7-5,9-9,99999999999999999999") == IndexSet.of([1, 9])


def test_wide_ranges_cost_no_memory() -> None:
    """615 bytes of wide ranges took 2.4 s and 930 MB per analysis when expanded."""
    wide = ",".join(f"{i * 40_000_000}-{i * 40_000_000 + 39_999_990}" for i in range(30))
    assert 550 <= len(wide) <= 700
    spec = {
        "completionMode": "Indexed",
        "completions": 2_000_000_000,
        "parallelism": 10,
        "backoffLimitPerIndex": 2,
    }
    raw = job(spec=spec, status={"completedIndexes": wide, "failedIndexes": "5-1999999999"})
    failed = pod("p", phase="Failed", containers=[ctr(state=terminated(1))], index=3)
    tracemalloc.start()
    try:
        report = analyse(parse_job(raw), [parse_pod(failed)], T0_EPOCH + 60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024
    assert report.failed_indexes == 1_999_999_995


def test_counter_series_of_a_namespace_without_jobs_go_after_the_retention() -> None:
    clock = Clock()
    state = ExporterState(clock=clock, namespace_retention=600)
    failed = job(conditions=[], status={"failed": 1})
    failing = pod("p", phase="Failed", containers=[ctr(state=terminated(1))])
    load(state, (failed, [failing]))
    family = metrics.CONTAINER_FAILURES_TOTAL.name
    assert value(state, family, namespace="default") == 1
    state.apply("jobs", "DELETED", failed)
    state.expire_namespaces()  # the resync loop notices the namespace has no Job left
    clock.now += 599
    state.expire_namespaces()
    assert value(state, family, namespace="default") == 1  # counters outlive the Job...
    clock.now += 2
    state.expire_namespaces()
    assert value(state, family, namespace="default") is None  # ...not the namespace forever
    assert f"{family}" not in text(state).replace(f"# HELP {family}", "").replace(
        f"# TYPE {family}", ""
    )
