"""The parser and the analysis never raise, whatever the objects look like."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwatch.analysis import analyse
from jobwatch.model import Job, parse_job, parse_pod, parse_time
from tests.builders import T0_EPOCH, ctr, job, pod, terminated

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    clone = copy.deepcopy(obj)
    target = clone
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return clone


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["metadata", "spec", "status", "kind"]), json_values))
def test_arbitrary_objects_never_raise(raw: dict[str, Any]) -> None:
    j = parse_job(raw)
    p = parse_pod(raw)
    analyse(j, [p], T0_EPOCH)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_field_of_a_real_object_replaced_by_junk_never_raises(data: st.DataObject) -> None:
    fixture = json.loads(data.draw(st.sampled_from(FIXTURES)).read_text())
    which = data.draw(st.sampled_from(["job", "pod"]))
    target = fixture["job"] if which == "job" or not fixture["pods"] else fixture["pods"][0]
    path = data.draw(st.sampled_from(_paths(target)))
    broken = _mutate(target, path, data.draw(json_values))
    if which == "job":
        j = parse_job(broken)
        pods = [parse_pod(p) for p in fixture["pods"]]
    else:
        j = parse_job(fixture["job"])
        pods = [parse_pod(broken), *(parse_pod(p) for p in fixture["pods"][1:])]
    analyse(j, pods, T0_EPOCH)


def test_missing_and_null_fields_take_api_defaults() -> None:
    j = parse_job(
        {"metadata": None, "spec": {"backoffLimit": None, "template": None}, "status": None}
    )
    assert isinstance(j, Job)
    assert (j.backoff_limit, j.completion_mode, j.pod_replacement_policy) == (
        6,
        "NonIndexed",
        "TerminatingOrFailed",
    )
    assert (j.failed, j.active, j.uncounted_failed) == (0, 0, frozenset())


def test_unknown_enum_values_are_kept() -> None:
    raw = job(restart_policy="SomeNewPolicy", spec={"completionMode": "Sharded"})
    j = parse_job(raw)
    assert (j.restart_policy, j.completion_mode) == ("SomeNewPolicy", "Sharded")
    p = parse_pod(pod(phase="Hibernating"))
    assert p.phase == "Hibernating"


def test_pod_belongs_to_its_job_by_owner_then_labels() -> None:
    raw = pod(job_uid="from-owner")
    assert parse_pod(raw).job_uid == "from-owner"
    raw["metadata"]["ownerReferences"] = []
    raw["metadata"]["labels"] = {"controller-uid": "from-old-label"}
    assert parse_pod(raw).job_uid == "from-old-label"


def test_sidecars_are_told_from_init_containers_by_restart_policy() -> None:
    p = parse_pod(pod(sidecars=[ctr("proxy")], init=[ctr("setup", terminated(0))]))
    assert [(c.name, c.kind) for c in p.containers] == [
        ("proxy", "sidecar"),
        ("setup", "init"),
        ("main", "regular"),
    ]


def test_times_parse_with_and_without_fractions() -> None:
    assert parse_time("2026-05-04T10:00:00Z") == T0_EPOCH
    assert parse_time("2026-05-04T10:00:00.250000Z") == T0_EPOCH + 0.25
    assert parse_time("yesterday") is None
    assert parse_time(12) is None


def test_a_slim_record_is_small() -> None:
    import pickle

    fixture = json.loads(
        (Path(__file__).parent / "fixtures" / "onfailure_restarts_in_progress.json").read_text()
    )
    assert len(pickle.dumps(parse_pod(fixture["pods"][0]))) < 2048
    assert len(pickle.dumps(parse_job(fixture["job"]))) < 2048


def test_huge_completions_do_not_make_the_analysis_loop() -> None:
    raw = job(
        backoff_limit=None,
        spec={"completionMode": "Indexed", "completions": 10**12, "backoffLimitPerIndex": 3},
        status={"failedIndexes": "0-5,7", "completedIndexes": "8-99999999999"},
    )
    report = analyse(parse_job(raw), [parse_pod(pod(index=6, index_failures=2))], T0_EPOCH)
    assert report.attempts is not None
    assert (report.attempts.used, report.attempts.remaining) == (2, 1)
