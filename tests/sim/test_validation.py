"""Every object version the scenarios write is valid Kubernetes 1.30 (strict schemas)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate import utils

from jobwatch_testbed.sim.store import Store


@pytest.fixture
def validate(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], str]:
    # The library re-reads its schema files on every call; cache them (1.4 ms per object).
    monkeypatch.setattr(
        utils, "schema_contents", functools.lru_cache(maxsize=None)(utils.schema_contents)
    )
    return lambda obj: str(kubernetes_validate.validate(obj, "1.30", strict=True))


def test_every_object_version_validates_strictly(
    played: Store, validate: Callable[[dict[str, Any]], str]
) -> None:
    events = played.history()
    assert played.compacted_rv == 1000, "history was truncated; raise history_size"
    kinds = set()
    errors = []
    for event in events:
        try:
            assert validate(event.object) == "1.30"
        except kubernetes_validate.ValidationError as exc:
            meta = event.object["metadata"]
            errors.append(
                f"{event.object['kind']} {meta['namespace']}/{meta['name']} rv {event.rv}: {exc}"
            )
        kinds.add(event.object["kind"])
    assert errors == []
    assert kinds == {"Job", "Pod", "CronJob"}
    assert len(events) > 300
