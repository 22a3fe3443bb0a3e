"""The typed decoder (`jobwatch.decode`, msgspec) against the tolerant dict path (`parse_job` /
`parse_pod`): wherever the typed path gives a record, it is the record the dict path gives;
where it gives up, the caller takes the dict path. Real objects must not need that fallback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwatch import decode
from jobwatch.model import JOBS, PODS, Raw, Record, Resource, parse_job, parse_pod
from jobwatch_testbed.sim.load import LoadGenerator
from jobwatch_testbed.sim.store import JOBS as SIM_JOBS
from jobwatch_testbed.sim.store import PODS as SIM_PODS
from jobwatch_testbed.sim.store import Store
from tests.test_model import FIXTURES, _mutate, _paths, json_values

PARSE: dict[Resource, Callable[[Raw], Record]] = {JOBS: parse_job, PODS: parse_pod}


def _objects() -> list[tuple[Resource, dict[str, Any]]]:
    """Every fixture's Job and pods, and what the sim's load generator serves."""
    out: list[tuple[Resource, dict[str, Any]]] = []
    for path in FIXTURES:
        fixture = json.loads(path.read_text())
        out.append((JOBS, fixture["job"]))
        out += [(PODS, p) for p in fixture["pods"]]
    gen = LoadGenerator(Store(history_size=1), jobs=3, pods_per_job=2, events_per_second=1)
    gen.populate_cloned()
    out += [(JOBS, j) for j in gen.store.list(SIM_JOBS)[0]]
    out += [(PODS, p) for p in gen.store.list(SIM_PODS)[0]]
    return out


OBJECTS = _objects()


def _typed_or_dict(resource: Resource, obj: Any) -> Record:
    """What the informer ends up with: the typed record, else the dict path's."""
    text = orjson.dumps(obj)
    typed = decode.record(resource, text)
    if typed is not None:
        return typed
    return PARSE[resource](orjson.loads(text))


def test_real_objects_take_the_typed_path_and_match_the_dict_path() -> None:
    assert len(OBJECTS) > 20
    for resource, obj in OBJECTS:
        typed = decode.record(resource, orjson.dumps(obj))
        assert typed is not None, (resource, obj["metadata"]["name"])
        assert typed == PARSE[resource](obj), (resource, obj["metadata"]["name"])


def test_watch_events_carry_the_same_record_and_resource_version() -> None:
    for resource, obj in OBJECTS:
        for kind in ("ADDED", "MODIFIED", "DELETED"):
            found = decode.event(resource, orjson.dumps({"type": kind, "object": obj}))
            assert found is not None
            assert found.type == kind
            assert found.record == PARSE[resource](obj)
            assert found.resource_version == (obj["metadata"].get("resourceVersion") or None)
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "42"}}}
    assert decode.event(PODS, orjson.dumps(bookmark)) == decode.Event("BOOKMARK", "42", None)


def test_an_error_event_or_a_line_that_is_not_json_goes_to_the_dict_path() -> None:
    error = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "gone"}}
    assert decode.event(PODS, orjson.dumps(error)) is None
    assert decode.event(PODS, b"{not json") is None
    assert decode.event(PODS, b'{"type": "MODIFIED", "object": []}') is None


def test_a_list_page_gives_records_and_hands_back_only_what_the_typed_path_rejects() -> None:
    pods = [obj for resource, obj in OBJECTS if resource == PODS]
    broken = json.loads(json.dumps(pods[0]))
    broken["status"]["containerStatuses"][0]["restartCount"] = "x"  # the dict path reads 0
    body = {
        "kind": "PodList",
        "metadata": {"continue": "next", "resourceVersion": "77"},
        "items": [*pods, broken],
    }
    page = decode.page(PODS, orjson.dumps(body))
    assert page is not None
    assert (page.token, page.resource_version) == ("next", "77")
    assert page.items[:-1] == [parse_pod(p) for p in pods]
    assert page.items[-1] == broken  # raw, for the dict path, which does not lose the pod
    assert parse_pod(broken).uid == broken["metadata"]["uid"]
    assert decode.page(PODS, b"[]") is None


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_field_replaced_by_junk_gives_what_the_dict_path_gives(data: st.DataObject) -> None:
    resource, obj = data.draw(st.sampled_from(OBJECTS))
    path = data.draw(st.sampled_from(_paths(obj)))
    broken = _mutate(obj, path, data.draw(json_values))
    assert _typed_or_dict(resource, broken) == PARSE[resource](broken)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_field_removed_gives_what_the_dict_path_gives(data: st.DataObject) -> None:
    resource, obj = data.draw(st.sampled_from(OBJECTS))
    path = data.draw(st.sampled_from(_paths(obj)))
    broken = _mutate(obj, path, None)
    parent = broken
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict):
        del parent[path[-1]]
    assert _typed_or_dict(resource, broken) == PARSE[resource](broken)


JUNK: list[Any] = [None, True, 0, -1, 3, 1.5, "", "7", "x", [], {}, ["x"], {"x": 1}]


def test_every_field_of_every_fixture_object_replaced_by_each_junk_value() -> None:
    """Exhaustive: each field of each real object, each kind of junk (numbers as strings,
    negatives, floats, nulls, the wrong container type)."""
    compared = 0
    for resource, obj in OBJECTS[: len(FIXTURES) * 3]:
        for path in _paths(obj):
            for value in JUNK:
                broken = _mutate(obj, path, value)
                assert _typed_or_dict(resource, broken) == PARSE[resource](broken), (path, value)
                compared += 1
    assert compared > 10_000
