"""Hypothesis-generated watch lines, event shapes and objects (issue 11 "Tests that must exist"):
whatever arrives, the informer never raises (except its own 410/retry signals for ERROR events),
the state keeps rendering, the output parses as text and OpenMetrics, and `promtool check metrics`
accepts it."""

from __future__ import annotations

import contextlib
import random
from typing import Any, cast

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from jobwatch.cluster import informer as informer_module
from jobwatch.cluster.informer import Informer
from jobwatch.state import ExporterState
from jobwatch_testbed import promtool
from tests.tools import tool

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "-1", "1e400", "2026-01-01T00:00:00Z", "Never", "OnFailure"])
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
times = st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "bogus", None, 12])
uids = st.sampled_from(["u1", "u2", "u3", "", None, 7])


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return value | anything


terminated = st.fixed_dictionaries(
    {
        "exitCode": _maybe(st.integers(-5, 300)),
        "reason": _maybe(st.sampled_from(["Error", "OOMKilled", "Completed", "x" * 3000])),
        "finishedAt": times,
        "startedAt": times,
    }
)
container_status = st.fixed_dictionaries(
    {
        "name": _maybe(st.sampled_from(["main", "side", "init"])),
        "restartCount": _maybe(st.integers(-3, 2**40)),
        "state": _maybe(st.fixed_dictionaries({"terminated": terminated}) | st.just({})),
        "lastState": _maybe(st.fixed_dictionaries({"terminated": terminated}) | st.just({})),
    }
)
metadata = st.fixed_dictionaries(
    {
        "name": _maybe(st.text(max_size=20)),
        "namespace": _maybe(st.sampled_from(["a", "b", "\ud800", "n" * 400])),
        "uid": _maybe(uids),
        "resourceVersion": _maybe(st.integers(1, 99).map(str)),
        "labels": _maybe(st.just({"batch.kubernetes.io/controller-uid": "u1"})),
        "ownerReferences": _maybe(
            st.just([{"kind": "Job", "uid": "u1", "name": "j", "controller": True}])
            | st.just([{"kind": "CronJob", "uid": "c", "name": "cj", "controller": True}])
        ),
        "creationTimestamp": times,
    }
)
job = st.fixed_dictionaries(
    {
        "kind": st.just("Job"),
        "metadata": metadata,
        "spec": _maybe(
            st.fixed_dictionaries(
                {
                    "backoffLimit": _maybe(st.integers(-1, 2**62)),
                    "activeDeadlineSeconds": _maybe(st.integers(-1, 2**62)),
                    "completionMode": _maybe(st.sampled_from(["Indexed", "NonIndexed"])),
                    "completions": _maybe(st.integers(0, 2**31)),
                    "backoffLimitPerIndex": _maybe(st.integers(0, 10)),
                    "template": _maybe(st.just({"spec": {"restartPolicy": "OnFailure"}})),
                }
            )
        ),
        "status": _maybe(
            st.fixed_dictionaries(
                {
                    "conditions": _maybe(
                        st.lists(
                            st.fixed_dictionaries(
                                {
                                    "type": st.sampled_from(["Failed", "Complete", "Suspended"]),
                                    "status": st.sampled_from(["True", "False"]),
                                    "reason": _maybe(st.text(max_size=30)),
                                }
                            ),
                            max_size=3,
                        )
                    ),
                    "failed": _maybe(st.integers(-1, 2**40)),
                    "startTime": times,
                    "completedIndexes": _maybe(st.sampled_from(["0-2147483646", "1,3-5", "x-"])),
                    "failedIndexes": _maybe(st.sampled_from(["0-99999999", "", "7"])),
                }
            )
        ),
    }
)
pod = st.fixed_dictionaries(
    {
        "kind": st.just("Pod"),
        "metadata": metadata,
        "spec": _maybe(st.just({"restartPolicy": "Never", "containers": [{"name": "main"}]})),
        "status": _maybe(
            st.fixed_dictionaries(
                {
                    "phase": _maybe(st.sampled_from(["Failed", "Running", "Succeeded"])),
                    "containerStatuses": _maybe(st.lists(container_status, max_size=3)),
                    "initContainerStatuses": _maybe(st.lists(container_status, max_size=2)),
                }
            )
        ),
    }
)
event_types = st.sampled_from(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]) | anything
events = st.fixed_dictionaries({"type": event_types, "object": job | pod | anything}) | anything


def _line(event: Any) -> bytes:
    try:
        return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(event).encode("utf-8", "replace")


CHECKED: list[str] = []  # promtool outputs of generated bodies that held Jobs


VALID_JOB = {
    "kind": "Job",
    "metadata": {"name": "j", "namespace": "a", "uid": "u1", "resourceVersion": "5"},
    "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never"}}},
    "status": {"failed": 1, "startTime": "2026-01-01T00:00:00Z"},
}
VALID_POD = {
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "namespace": "a",
        "uid": "p1",
        "labels": {"batch.kubernetes.io/controller-uid": "u1"},
        "ownerReferences": [{"kind": "Job", "uid": "u1", "name": "j", "controller": True}],
    },
    "spec": {"restartPolicy": "Never", "containers": [{"name": "main"}]},
    "status": {
        "phase": "Failed",
        "containerStatuses": [
            {"name": "main", "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}
        ],
    },
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(
    [
        ("jobs", {"type": "ADDED", "object": VALID_JOB}),
        ("pods", {"type": "ADDED", "object": VALID_POD}),
    ]
)
@given(st.lists(st.tuples(st.sampled_from(["jobs", "pods"]), events), max_size=25))
def test_any_event_stream_keeps_the_exporter_running(stream: list[tuple[str, Any]]) -> None:
    state = ExporterState(clock=lambda: 1_780_000_000.0)
    informers = {
        resource: Informer(
            cast(Any, None),
            resource,
            None,
            "",
            state,
            state.telemetry,
            idle_timeout=1.0,
            rng=random.Random(1),
        )
        for resource in ("jobs", "pods")
    }
    for resource, event in stream:
        # An ERROR event raises the informer's own control flow (relist, retry), not a crash.
        with contextlib.suppress(informer_module._Expired, informer_module._Retry):
            informers[resource]._handle_line(_line(event))
    text = state.exposition(False).decode()
    openmetrics = state.exposition(True).decode()
    assert list(parse_text(text))
    assert list(parse_om(openmetrics))
    if "jobwatch_job_info{" in text and len(CHECKED) < 10:  # promtool costs ~30 ms a run
        CHECKED.append(promtool.check_metrics(text, binary=tool("promtool")))


def test_a_generated_body_with_jobs_went_through_promtool() -> None:
    """The explicit example above always renders a Job, so promtool saw at least one body."""
    assert CHECKED, "run with test_any_event_stream_keeps_the_exporter_running"
